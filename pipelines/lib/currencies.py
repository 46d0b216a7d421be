"""ISO 4217 currency codes and their minor units: what ingestion accepts as a currency.

Origin: the ISO 4217 list (SIX Group, amendment 178, 2024). Codes withdrawn recently
(HRK 2023, SLL 2024, CUC 2021, ZWL 2024) stay valid because landed history still carries
them; the testing and "no currency" codes XTS / XXX are left out on purpose, so a sample or
placeholder value lands in quarantine instead of in revenue.
"""

from __future__ import annotations

# Three-letter codes, alphabetical. Kept as one string so the list reads like the standard.
_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR
ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL
THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF
XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
"""

ISO_4217: frozenset[str] = frozenset(_CODES.split())

# Digits after the decimal point, where it is not 2. Stripe-style `amount` fields count in
# these minor units: 1999 is 19.99 USD but 1999 JPY (zero-decimal) and 1.999 KWD.
_MINOR_UNITS_NOT_2: dict[str, int] = {
    # zero-decimal
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    # three-decimal
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    # four-decimal units of account
    **dict.fromkeys("CLF UYW".split(), 4),
    # funds and precious metals have no minor unit ("N.A." in the standard); treat as whole
    **dict.fromkeys("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XUA".split(), 0),
}

ZERO_DECIMAL: frozenset[str] = frozenset(c for c, d in _MINOR_UNITS_NOT_2.items() if d == 0)


def is_iso_4217(code: str) -> bool:
    """True for an upper-case ISO 4217 code this product accepts (see module docstring)."""
    return code in ISO_4217


def minor_units(code: str) -> int:
    """Digits after the decimal point of `code` (2 unless the standard says otherwise)."""
    if code not in ISO_4217:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return _MINOR_UNITS_NOT_2.get(code, 2)


def minor_unit_divisor_sql(currency_sql: str) -> str:
    """SQL expression: how many minor units make one major unit of the currency column.

    Generated from the table above, so the SQL and Python views of minor units cannot drift.
    """
    branches = []
    for digits in sorted(set(_MINOR_UNITS_NOT_2.values())):
        codes = ", ".join(f"'{c}'" for c, d in sorted(_MINOR_UNITS_NOT_2.items()) if d == digits)
        branches.append(f"WHEN {currency_sql} IN ({codes}) THEN {10**digits}")
    return f"(CASE {' '.join(branches)} ELSE 100 END)"
