"""UAI check letters (GAR_REFERENCE §1)."""

from __future__ import annotations

import pytest

from services.uai import check_letter, is_valid_uai, make_uai


def test_check_letter_of_known_uais() -> None:
    assert check_letter("0650499") == "P"
    assert check_letter("0350042") == "F"


def test_known_uais_are_valid() -> None:
    assert is_valid_uai("0650499P")
    assert is_valid_uai("0350042F")


def test_wrong_check_letter_is_invalid() -> None:
    assert not is_valid_uai("0650499A")


@pytest.mark.parametrize(
    "value",
    ["", "065049P", "06504999P", "0650499p", "0650499P-ET6", " 0650499P", "0650499P\n",
     "065O499P", "٠٦٥٠٤٩٩P"],
)
def test_malformed_uai_is_invalid(value: str) -> None:
    assert not is_valid_uai(value)


def test_letters_skip_i_o_and_q() -> None:
    letters = {make_uai(n)[-1] for n in range(23)}
    assert len(letters) == 23
    assert not letters & {"I", "O", "Q"}


def test_make_uai_pads_and_appends_the_letter() -> None:
    assert make_uai(650499) == "0650499P"
    assert make_uai(350042) == "0350042F"


@pytest.mark.parametrize("number", [-1, 10_000_000])
def test_make_uai_refuses_out_of_range_numbers(number: int) -> None:
    with pytest.raises(ValueError):
        make_uai(number)


@pytest.mark.parametrize("digits", ["065049", "06504999", "065049a", "٠٦٥٠٤٩٩"])
def test_check_letter_refuses_anything_but_seven_ascii_digits(digits: str) -> None:
    with pytest.raises(ValueError):
        check_letter(digits)
