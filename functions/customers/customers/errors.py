"""The customers service's errors."""

from __future__ import annotations

from typing import ClassVar

from shop_shared.errors import Conflict, DomainError, Forbidden, NotFound


class CustomerExists(Conflict):
    """This user has registered already; a profile is created once."""

    code = "CUSTOMER_EXISTS"


class CustomerNotFound(NotFound):
    """The caller has not registered a profile yet (GET /customers/me before POST /customers)."""


class EmailNotVerified(Forbidden):
    """The caller's account has no verified email: the shop mails only addresses the account
    holder proved are theirs (Cognito verifies them), so it can't register a profile yet."""

    code: ClassVar[str] = "EMAIL_NOT_VERIFIED"


class EmailMismatch(DomainError):
    """The body names an email other than the account's verified one (a profile is mailed at
    the account's own address only)."""

    code: ClassVar[str] = "EMAIL_MISMATCH"
    http_status: ClassVar[int] = 422
