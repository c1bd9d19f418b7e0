"""Integration fixtures: `erp_kind` and `erp_case` run a workflow's key tests on each ERP."""

from tests.support.erps import erp_case, erp_kind

__all__ = ["erp_case", "erp_kind"]
