"""A new order as a sales channel sends it, validated: customer, shipping address, lines,
payment, shipping preference and backorder policy. Error messages say what is wrong and how
to fix it; prices are not part of the request (they come from the catalogue)."""

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator, model_validator

from domain.enums import BackorderPolicy, CustomerPaymentMethod, NotificationChannel, ShippingPreference

# Postcode formats per country (ISO 3166-1 alpha-2); a country not listed takes any 2–10
# letters, digits, spaces and hyphens.
POSTCODE_PATTERNS: dict[str, tuple[str, str]] = {
    "NL": (r"^[1-9][0-9]{3} ?[A-Z]{2}$", "four digits and two letters, e.g. 1012 AB"),
    "BE": (r"^[1-9][0-9]{3}$", "four digits, e.g. 1000"),
    "DE": (r"^[0-9]{5}$", "five digits, e.g. 10115"),
    "FR": (r"^[0-9]{5}$", "five digits, e.g. 75001"),
    "LU": (r"^(L-)?[0-9]{4}$", "four digits, e.g. 1111"),
    "AT": (r"^[0-9]{4}$", "four digits, e.g. 1010"),
    "DK": (r"^[0-9]{4}$", "four digits, e.g. 1050"),
    "ES": (r"^[0-9]{5}$", "five digits, e.g. 28001"),
    "IT": (r"^[0-9]{5}$", "five digits, e.g. 00118"),
    "GB": (r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$", "e.g. SW1A 1AA"),
    "US": (r"^[0-9]{5}(-[0-9]{4})?$", "five digits, e.g. 94105"),
}
GENERIC_POSTCODE = r"^[A-Z0-9][A-Z0-9 \-]{1,9}$"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] = Field(
        description="The channel's own customer id")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: EmailStr
    phone: str | None = Field(default=None, description="E.164, e.g. +31612345678")
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}([-_][A-Z]{2})?$")] = "nl"
    notification_channels: list[NotificationChannel] = Field(default_factory=lambda: [NotificationChannel.EMAIL])

    @field_validator("phone")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        if v is None:
            return v
        compact = re.sub(r"[ \-()]", "", v)
        if not E164.match(compact):
            raise ValueError("phone must be in E.164 form: a + then country code and number, e.g. +31612345678")
        return compact

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        wants_phone = {NotificationChannel.SMS} & set(self.notification_channels)
        if wants_phone and not self.phone:
            raise ValueError("notification channel 'sms' needs a phone number")
        if len(set(self.notification_channels)) != len(self.notification_channels):
            raise ValueError("notification_channels lists a channel twice")
        return self


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 country code, e.g. NL")
    street: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    house_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    house_number_addition: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=16)]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _postcode_fits_country(self) -> Self:
        pattern, example = POSTCODE_PATTERNS.get(self.country, (GENERIC_POSTCODE, "letters and digits"))
        if not re.match(pattern, self.postcode):
            raise ValueError(f"postcode {self.postcode!r} is not a valid {self.country} postcode ({example})")
        return self


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    quantity: int = Field(gt=0, le=10_000, description="Units, at least 1")
    backorder_policy: BackorderPolicy | None = Field(default=None, description="Overrides the order's policy")


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: CustomerPaymentMethod
    token: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] = Field(
        description="The payment provider's token, e.g. tok_visa")


class Shipping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preference: ShippingPreference = ShippingPreference.CHEAPEST
    carrier: str | None = Field(default=None, description="With preference 'named'")
    service: str | None = None

    @model_validator(mode="after")
    def _named_has_carrier(self) -> Self:
        if self.preference == ShippingPreference.NAMED and not self.carrier:
            raise ValueError("shipping preference 'named' needs a carrier, e.g. \"carrier\": \"postnl\"")
        return self


class NewOrder(BaseModel):
    """``POST /orders``: the channel comes from the API key, not from this body."""

    model_config = ConfigDict(extra="forbid")

    external_reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    customer: Customer
    shipping_address: Address
    lines: list[Line] = Field(min_length=1, max_length=1000)
    payment: PaymentIn
    shipping: Shipping = Field(default_factory=Shipping)
    backorder_policy: BackorderPolicy = BackorderPolicy.ASK
    ship_partial: bool = Field(
        default=False, description="When some units are pre-ordered: true ships what is in stock now and the rest "
                                   "in a second shipment (the order is PARTIALLY_SHIPPED in between, each shipment "
                                   "invoiced and its payment captured on its own); false waits to ship everything together")
    discount_code: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=64)] | None = Field(
        default=None, description="A loyalty discount code, redeemed with the order")

    @field_validator("lines")
    @classmethod
    def _no_duplicate_skus(cls, lines: list[Line]) -> list[Line]:
        seen: set[str] = set()
        for i, line in enumerate(lines):
            if line.sku in seen:
                raise ValueError(f"sku {line.sku!r} appears twice (line {i + 1}); put the total quantity on one line")
            seen.add(line.sku)
        return lines
