"""`/system/erp/v1`: the canonical ERP API for trusted internal callers (`system:erp`).

Thin: each operation is one `ErpPort` call. `company_id` is the ERP's id of a legal
entity. Writes are keyed by the ERP's natural keys (customer number), so they are
safe to repeat without an `Idempotency-Key`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from core.auth import requires
from core.problems import problem_responses
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCurrency,
    ErpCustomer,
    ErpCustomerUpsert,
    ErpSalesInvoice,
)
from system_apis.rest import BACKEND_PROBLEMS, VendorID


def get_erp(request: Request) -> ErpPort:
    """The ERP port the composition root built."""
    port: ErpPort = request.app.state.backends.erp
    return port


ErpDep = Annotated[ErpPort, Depends(get_erp)]


class ErpCustomerUpsertBody(ErpCustomerUpsert):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErpTaxCodes(BaseModel):
    tax_codes: list[str]


router = APIRouter(
    prefix="/system/erp/v1", tags=["system-erp"], dependencies=[requires("system:erp")]
)


@router.get(
    "/companies/{company_id}",
    response_model=ErpCompany,
    operation_id="system-erp-get-company",
    summary="Get a company",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_company(company_id: VendorID, erp: ErpDep) -> ErpCompany:
    """One ERP company (a legal entity's ledger)."""
    return await erp.get_company(company_id)


@router.get(
    "/companies/{company_id}/tax-codes",
    response_model=ErpTaxCodes,
    operation_id="system-erp-list-tax-codes",
    summary="List tax codes",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_tax_codes(company_id: VendorID, erp: ErpDep) -> ErpTaxCodes:
    """The tax codes the company's invoice lines may use."""
    return ErpTaxCodes(tax_codes=sorted(await erp.list_tax_codes(company_id)))


@router.get(
    "/companies/{company_id}/currencies",
    response_model=list[ErpCurrency],
    operation_id="system-erp-list-currencies",
    summary="List currencies",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_currencies(company_id: VendorID, erp: ErpDep) -> list[ErpCurrency]:
    """The foreign currencies set up in the company."""
    return list(await erp.list_currencies(company_id))


@router.post(
    "/companies/{company_id}/customers",
    response_model=ErpCustomer,
    operation_id="system-erp-upsert-customer",
    summary="Create or update a customer",
    responses=problem_responses(400, 413, 415, *BACKEND_PROBLEMS),
)
async def upsert_customer(
    company_id: VendorID, customer: ErpCustomerUpsertBody, erp: ErpDep
) -> ErpCustomer:
    """The customer with this number, created or brought in line with the body."""
    return await erp.upsert_customer(company_id, customer)


@router.get(
    "/companies/{company_id}/sales-invoices",
    response_model=list[ErpSalesInvoice],
    operation_id="system-erp-find-sales-invoices",
    summary="Find sales invoices by external document number",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def find_sales_invoices(
    company_id: VendorID,
    erp: ErpDep,
    external_document_number: Annotated[str, Query(min_length=1, max_length=35)],
) -> list[ErpSalesInvoice]:
    """The invoice (draft or posted) carrying this external document number: none or one."""
    found = await erp.find_sales_invoice(company_id, external_document_number)
    return [] if found is None else [found]


@router.get(
    "/companies/{company_id}/sales-invoices/{invoice_id}",
    response_model=ErpSalesInvoice,
    operation_id="system-erp-get-sales-invoice",
    summary="Get a sales invoice",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_sales_invoice(
    company_id: VendorID, invoice_id: VendorID, erp: ErpDep
) -> ErpSalesInvoice:
    """One sales invoice as the ERP holds it now: status and remaining amount."""
    return await erp.get_sales_invoice(company_id, invoice_id)
