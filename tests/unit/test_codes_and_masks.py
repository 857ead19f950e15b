import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.domain import servicecode
from node.domain.errors import InvalidInput
from node.domain.identity import resident_id_check, validate_id
from node.domain.masking import mask_id_number, mask_name, mask_phone

pytestmark = pytest.mark.unit
rand8 = st.text(alphabet=servicecode.ALPHABET, min_size=8, max_size=8)


@given(rand8)
def test_code_roundtrip(r):
    code = servicecode.make_code("330105", date(2026, 11, 22), r)
    assert servicecode.normalize(code) == code
    assert servicecode.normalize(code.replace("-", "").lower()) == code


@given(rand8, st.integers(0, 20), st.sampled_from(servicecode.ALPHABET))
def test_any_single_character_error_is_detected(r, pos, ch):
    code = servicecode.make_code("330105", date(2026, 11, 22), r)
    flat = code.replace("-", "")
    if flat[pos] == ch:
        return
    typo = flat[:pos] + ch + flat[pos + 1:]
    with pytest.raises(InvalidInput):
        servicecode.normalize(typo)


@given(rand8, st.integers(0, 19))
def test_adjacent_transpositions_are_detected(r, pos):
    flat = servicecode.make_code("330105", date(2026, 11, 22), r).replace("-", "")
    if flat[pos] == flat[pos + 1]:
        return
    swapped = flat[:pos] + flat[pos + 1] + flat[pos] + flat[pos + 2:]
    with pytest.raises(InvalidInput):
        servicecode.normalize(swapped)


def test_malformed_code_names_field():
    with pytest.raises(InvalidInput) as e:
        servicecode.normalize("hello", field="code")
    assert e.value.field == "code"


def test_masks():
    assert mask_name("张三明") == "张*明"
    assert mask_name("李四") == "李*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_id_number("330105199001011234") == "3301**********1234"
    assert mask_phone("13912345678") == "139****5678"


def test_resident_id():
    assert resident_id_check("11010519491231002") == "X"
    assert validate_id("resident_id", "11010519491231002x") == "11010519491231002X"
    with pytest.raises(InvalidInput, match="check digit"):
        validate_id("resident_id", "110105194912310021")
    with pytest.raises(InvalidInput, match="birth date"):
        validate_id("resident_id", "110105194913310021")
