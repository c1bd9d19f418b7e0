"""Stripe's wire format: ids, errors, form decoding, parameter readers that refuse like Stripe."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

API_VERSION = "2020-08-27"
ACCOUNT_NAME = "Ledgergate Sandbox"
ACCOUNT_COUNTRY = "US"
DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100
WEBHOOK_RETRY_DELAYS = (1.0, 5.0, 25.0)
JsonObject = dict[str, Any]
Params = dict[str, Any]
_ID_ALPHABET = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def new_object_id(prefix: str) -> str:
    """A Stripe-style id: `cus_`, `ii_`, `in_`, `il_`, `req_` and 24 base62 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def unix_now() -> int:
    return int(time.time())


class StripeApiError(Exception):
    """A Stripe error answer: `{"error": {"type", "code", "message", "param", ...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    @property
    def is_parameter_error(self) -> bool:
        """Refused while checking parameters, before the operation ran: never replayed."""
        return self.code is not None and self.code.startswith("parameter_")

    def body(self) -> JsonObject:
        error: JsonObject = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def decode_form(raw: str) -> Params:
    """Decode a form body or query string in bracket notation into nested values.

    `a[b]=1` nests a dict, `a[]=1` appends to a list, `a[0][b]=1` gives
    `{"a": {"0": {"b": "1"}}}`: whether numbered keys are a list is for the schema of
    the parameter to say. Values stay strings. Conflicting keys raise `StripeApiError`.
    """
    params: Params = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = _KEY_PATTERN.match(key)
        if match is None:
            raise StripeApiError(400, f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _assign(params, path, value, key)
    return params


def _assign(container: Params, path: list[str], value: str, key: str) -> None:
    head, rest = path[0], path[1:]
    conflict = StripeApiError(400, f"Invalid array or hash for parameter: {key}", param=key)
    if not rest:
        if isinstance(container.get(head), dict | list):
            raise conflict
        container[head] = value
    elif rest == [""]:
        current = container.setdefault(head, [])
        if not isinstance(current, list):
            raise conflict
        current.append(value)
    elif rest[0] == "":
        raise conflict
    else:
        child = container.setdefault(head, {})
        if not isinstance(child, dict):
            raise conflict
        _assign(child, rest, value, key)


@dataclass(frozen=True)
class Call:
    """One decoded request to an operation, with readers that refuse like Stripe does."""

    params: Params
    path: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""

    def name(self, key: str) -> str:
        """The parameter's full name in errors: `items[0][price]` for a nested reader."""
        return f"{self.prefix}[{key}]" if self.prefix else key

    def check_known(self, allowed: frozenset[str]) -> None:
        for key in self.params:
            if key not in allowed and key != "expand":
                name = self.name(key)
                raise StripeApiError(
                    400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )

    def nested(self, key: str) -> Call | None:
        """A reader for the hash `key[...]`, or None when it was not sent."""
        value = self.params.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise StripeApiError(400, "Invalid hash", param=self.name(key))
        return Call(value, self.path, prefix=self.name(key))

    def objects(self, key: str) -> list[Call]:
        """Readers for the array of hashes `key[0][...]`, `key[1][...]`, in order."""
        value = self.params.get(key)
        if value is None or value == "":
            return []
        if not isinstance(value, dict) or not all(
            index.isdigit() and isinstance(item, dict) for index, item in value.items()
        ):
            raise StripeApiError(400, "Invalid array", param=self.name(key))
        return [
            Call(value[index], self.path, prefix=f"{self.name(key)}[{index}]")
            for index in sorted(value, key=int)
        ]

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.params.get(key)
        name = self.name(key)
        if value is None or value == "":
            if required:
                raise StripeApiError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
            return None
        if not isinstance(value, str):
            raise StripeApiError(400, f"Invalid string: {name}", param=name)
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None  # `string` raised otherwise
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int | None:
        value = self.string(key)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value) or (minimum is not None and int(value) < minimum):
            raise StripeApiError(
                400,
                f"Invalid integer: {value}",
                code="parameter_invalid_integer",
                param=self.name(key),
            )
        return int(value)

    def boolean(self, key: str) -> bool | None:
        value = self.string(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise StripeApiError(400, f"Invalid boolean: {value}", param=self.name(key))
        return value == "true"

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.string(key)
        if value is not None and value not in choices:
            name = self.name(key)
            raise StripeApiError(
                400, f"Invalid {name}: must be one of {', '.join(choices)}", param=name
            )
        return value

    def metadata(self) -> dict[str, str]:
        """`metadata[key]=value` pairs; an empty value unsets a key, like on Stripe."""
        value = self.params.get("metadata")
        if value is None or value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise StripeApiError(400, "Invalid hash", param="metadata")
        return {key: item for key, item in value.items() if item != ""}

    def updated_metadata(self, current: dict[str, str]) -> dict[str, str]:
        """`metadata` on an update: keys merge into `current`, an empty value unsets one."""
        value = self.params.get("metadata")
        if value is None:
            return current
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise StripeApiError(400, "Invalid hash", param=self.name("metadata"))
        merged = {**current, **value}
        return {key: item for key, item in merged.items() if item != ""}

    def string_list(self, name: str) -> list[str]:
        """`name[]=a&name[]=b` or `name[0]=a&name[1]=b`."""
        value = self.params.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, dict) and all(key.isdigit() for key in value):
            value = [value[key] for key in sorted(value, key=int)]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise StripeApiError(400, "Invalid array", param=name)
        return value


def currency_param(value: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise StripeApiError(400, f"Invalid currency: {value.lower()}", param=name)
    return value.lower()
