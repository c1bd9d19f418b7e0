"""The reliability harness (`make chaos`, `python -m chaos`): break things, count documents.

Each check starts its own estate on loopback (a throwaway PostgreSQL database, the
Business Central sandbox as its own process, `ledgergate serve`), drives postings
through it while something fails, lets the replay worker drain the exception queue
and then compares every ERP document with the gateway's records (`ledger.py`). It
prints one line per check and exits non-zero when any check finds a lost, duplicated
or half-written posting.
"""
