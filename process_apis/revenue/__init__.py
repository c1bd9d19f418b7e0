"""Revenue recognition: schedules from posted lines, monthly journals, the waterfall."""
