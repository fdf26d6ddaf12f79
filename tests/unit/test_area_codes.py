"""The US area code -> state table shipped in src/smsvia/data/us_area_codes.csv.

It is derived from phonenumbers' geocoding data, which costs about 100 MB of memory to import;
the table is a few kilobytes. Regenerate it after upgrading phonenumbers with
`python -m tests.unit.test_area_codes > src/smsvia/data/us_area_codes.csv`.
"""

from __future__ import annotations

import collections
from importlib import resources

import phonenumbers

STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington State": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
}  # fmt: skip
HEADER = (
    "# US area code -> state (USPS code), from phonenumbers' geocoding data.\n"
    "# Regenerate: python -m tests.unit.test_area_codes > src/smsvia/data/us_area_codes.csv\n"
    "area_code,state\n"
)


def _state(description: str) -> str | None:
    if ", " in description:  # "San Antonio, TX"
        return description.rsplit(", ", 1)[1]
    return STATES.get(description)


def generate() -> str:
    from phonenumbers.geodata import GEOCODE_DATA

    longer: dict[str, list[str]] = collections.defaultdict(list)  # "1713" -> city names
    for key, names in GEOCODE_DATA.items():
        if key.startswith("1") and len(key) > 4:
            longer[key[:4]].append(names.get("en", ""))
    rows = []
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}5550100")
        if phonenumbers.region_code_for_number(number) != "US":
            continue
        prefix = f"1{npa}"
        if prefix in GEOCODE_DATA:
            state = _state(GEOCODE_DATA[prefix].get("en", ""))
        else:  # only longer prefixes (cities): the state most of them name
            votes = collections.Counter(_state(name) for name in longer[prefix])
            votes.pop(None, None)
            state = votes.most_common(1)[0][0] if votes else None
        if state is not None:
            rows.append(f"{npa},{state}\n")
    return HEADER + "".join(rows)


def test_the_shipped_table_is_what_phonenumbers_says_today():
    shipped = resources.files("smsvia.data").joinpath("us_area_codes.csv").read_text("utf-8")
    assert shipped == generate()


if __name__ == "__main__":
    print(generate(), end="")
