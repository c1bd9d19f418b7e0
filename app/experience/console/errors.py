"""The console's problems (problem+json, stable types)."""

from __future__ import annotations

from core.auth import Forbidden, Unauthorized
from core.errors import BadRequest, BusinessRuleViolation, Conflict


class CrossSiteRequestRefused(Forbidden):
    slug = "console-cross-site-request"
    title = "The console refuses requests from other sites or without its form token"


class OperatorExists(Conflict):
    slug = "operator-exists"
    title = "An operator of that name exists"


class WeakPassword(BusinessRuleViolation):
    slug = "operator-password-too-short"
    title = "The password is too short"


class UnknownRole(BusinessRuleViolation):
    slug = "operator-unknown-role"
    title = "There is no console role of that name"


class SignInFailed(BadRequest):
    slug = "console-sign-in-failed"
    title = "The identity provider's answer could not be accepted"


class InvalidForm(BadRequest):
    slug = "console-invalid-form"
    title = "The form is not one the console sent"


class ConsoleSignInRequired(Unauthorized):
    slug = "console-sign-in-required"
    title = "Sign in to the console first"


class NoConsoleRole(Forbidden):
    slug = "console-no-role"
    title = "The identity provider grants this person no console role"


class MonthRangeTooLong(BadRequest):
    slug = "console-month-range"
    title = "The months asked for are out of order or too many"
