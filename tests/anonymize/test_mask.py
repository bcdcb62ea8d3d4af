import pyarrow as pa
import pytest

from onesource.anonymize.mask import MaskNotAllowedError, mask


@pytest.mark.parametrize(
    ("kind", "values", "masked"),
    [
        ("id_number", ["110101199003071234", "12345", None], ["110101********1234", "*****", None]),
        ("phone", ["13812345678", "123"], ["138****5678", "***"]),
        ("name", ["张三丰", "欧阳娜娜", "李", "欧阳"], ["张*", "欧阳*", "李*", "欧*"]),
    ],
    ids=["id-number", "phone", "name"],
)
def test_masks(kind, values, masked):
    assert mask(pa.array(values), kind, list_notice=True).to_pylist() == masked


def test_mask_refused_outside_list_notices():
    with pytest.raises(MaskNotAllowedError, match="not a list notice"):
        mask(pa.array(["13812345678"]), "phone", list_notice=False)


def test_unknown_mask():
    with pytest.raises(MaskNotAllowedError, match="known: id_number, phone, name"):
        mask(pa.array(["x"]), "email", list_notice=True)  # type: ignore[arg-type]
