"""Who may seal and open customers' emails and addresses, as localcloud's IAM decides it from
template.yaml (the roles SAM's policy templates expand to): the producers may only encrypt with
the customer-data key, the consumers that need the clear value only decrypt, nobody else either
(issue 11, "Secrets and logs"). The same for the payment-token key."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.cloudformation.template import Template
from localcloud.iam.account import IamAccount
from tests.support.template import ROOT

ACCOUNT = "123456789012"
KEY_IDS = {
    "CustomerDataKey": "1111aaaa-0000-4000-8000-000000000001",
    "PaymentTokenKey": "2222bbbb-0000-4000-8000-000000000002",
}
GRANTS = {
    "CustomerDataKey": {
        "RegisterCustomerFunction": "kms:Encrypt",
        "PlaceOrderFunction": "kms:Encrypt",
        "RecordCustomerAddressFunction": "kms:Decrypt",
        "ScheduleShipmentFunction": "kms:Decrypt",
        "SendNotificationFunction": "kms:Decrypt",
    },
    "PaymentTokenKey": {
        "PlaceOrderFunction": "kms:Encrypt",
        "ChargePaymentFunction": "kms:Decrypt",
    },
}


class _Provisioned(dict[Any, str]):
    """Names and ARNs provisioning would learn, made up for every other resource: the key
    grants do not depend on them."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: Any) -> str:
        if isinstance(key, tuple):  # (logical id, attribute) of a GetAtt
            return f"arn:aws:localcloud:us-east-1:{ACCOUNT}:{key[0]}/{key[1]}"
        return str(key)


@pytest.fixture(scope="module")
def iam() -> tuple[Template, IamAccount]:
    template = Template.load(ROOT / "template.yaml")
    template.register_function_identities()
    template.refs = _Provisioned({**template.refs, **KEY_IDS})  # KEY_IDS: what KMS would say
    template.attributes = _Provisioned(template.attributes)
    return template, IamAccount(template)


@pytest.mark.parametrize("key", sorted(GRANTS))
def test_only_the_producers_seal_and_only_the_consumers_open(
    iam: tuple[Template, IamAccount], key: str
) -> None:
    template, account = iam
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_IDS[key]}"
    # Given every function's role; When each asks to encrypt and to decrypt with the key
    allowed = {
        (function, action)
        for function in template.functions()
        for action in ("kms:Encrypt", "kms:Decrypt")
        if account.allows(account.function_role(function).arn, action, key_arn)
    }
    # Then exactly the grants hold: a producer can't open, a consumer can't seal, and every
    # other role (ReserveStock, GetCustomer, the relays, ...) can do neither
    assert allowed == set(GRANTS[key].items())
