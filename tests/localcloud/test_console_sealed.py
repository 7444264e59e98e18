"""The console shows a sealed field of an event (issue 11) as "sealed", not its ciphertext."""

from __future__ import annotations

import json

from localcloud.console.data import SEALED, _event


def test_an_events_sealed_fields_read_sealed_and_the_rest_as_it_is() -> None:
    # Given an OrderPlaced item whose address is sealed, and one without an address
    data = {"orderId": "o-1", "items": [{"sku": "A", "quantity": 1}]}
    sealed = {**data, "shippingAddressCiphertext": "AQICAHh" + "A" * 200}
    unsealed = {**data, "shippingAddressCiphertext": None}

    def item(event_data: object) -> dict[str, object]:
        detail = {"metadata": {"eventId": "e-1"}, "data": event_data}
        return {"sk": "V#000001", "detailType": "OrderPlaced", "detail": json.dumps(detail)}

    # When the console reads them, Then the ciphertext reads "sealed", everything else as is
    assert _event(item(sealed))["data"] == {**data, "shippingAddressCiphertext": SEALED}
    assert _event(item(unsealed))["data"] == unsealed
