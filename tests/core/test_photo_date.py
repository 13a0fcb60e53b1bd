"""Dates and captions of scanned prints: parsing, EXIF + XMP written per format and read
back by other libraries exactly, existing XMP merged."""
from __future__ import annotations

import re

import numpy as np
import pytest
import tifffile
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image
from photoforge.core.photo_date import (DateError, PhotoDate, date_in_name, parse_date, read_date_caption,
                                        set_date_caption)

PIXELS = np.random.default_rng(3).integers(0, 65535, (20, 30, 3), dtype=np.uint16)


@pytest.mark.parametrize("text, expected", [
    ("1962", PhotoDate(1962)), ("1962-07", PhotoDate(1962, 7)), ("1962-07-14", PhotoDate(1962, 7, 14))])
def test_three_precisions(text, expected):
    assert parse_date(text) == expected
    assert expected.iso() == text
    assert expected.exif() == {"1962": "1962:01:01 00:00:00", "1962-07": "1962:07:01 00:00:00",
                               "1962-07-14": "1962:07:14 00:00:00"}[text]


@pytest.mark.parametrize("text, message", [
    ("62", "'62' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD"), ("1962-13", "the month must be 01–12"),
    ("1962-02-30", "1962-02 has no day 30"), ("1700", "the year must be 1826–"), ("July 1962", "is not a date")])
def test_bad_dates_say_what_is_wrong(text, message):
    with pytest.raises(DateError, match=re.escape(message)):
        parse_date(text)


@pytest.mark.parametrize("name, expected", [
    ("1962", "1962"), ("1962-07", "1962-07"), ("1962_07_14", "1962-07-14"), ("Summer 1962", "1962"),
    ("1962.12.24 Christmas", "1962-12-24"), ("ca 1950", "circa 1950"), ("c.1950-06", "circa 1950-06"),
    ("Disc 1962", "1962"), ("1962_13", "1962"), ("1962_02_30", "1962-02")])
def test_dates_in_folder_names(name, expected):
    assert str(date_in_name(name)) == expected


@pytest.mark.parametrize("name", ["scans", "roll 12", "IMG_20619", "2999 plans"])
def test_folder_names_without_a_date(name):
    assert date_in_name(name) is None


def _xmp_of(path, fmt) -> bytes:
    if fmt == "tif":
        with tifffile.TiffFile(path) as tif:
            value = tif.pages[0].tags[700].value
            return value if isinstance(value, bytes) else value.encode()
    with Image.open(path) as im:
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
        return xmp if isinstance(xmp, bytes) else xmp.encode()


def _exif_of(path, fmt) -> tuple[str, str | None]:
    if fmt == "tif":
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages[0].tags
            return tags["ExifTag"].value["DateTimeOriginal"], \
                tags["ImageDescription"].value if "ImageDescription" in tags else None
    with Image.open(path) as im:
        exif = im.getexif()
        return exif.get_ifd(0x8769)[0x9003], exif.get(0x010E)


@pytest.mark.parametrize("fmt", ["jpg", "tif", "png"])
def test_written_and_read_back_by_pillow_and_tifffile(tmp_path, fmt):
    image = ImageData(PIXELS if fmt != "jpg" else (PIXELS >> 8).astype(np.uint8))
    dated = set_date_caption(image, parse_date("1962-07", circa=True), "Grandma at the lake")
    path = save_image(dated, tmp_path / f"p.{fmt}")
    assert _exif_of(path, fmt) == ("1962:07:01 00:00:00", "Grandma at the lake")
    xmp = _xmp_of(path, fmt).decode("utf-8")
    assert "<photoshop:DateCreated>1962-07</photoshop:DateCreated>" in xmp
    assert '<rdf:li xml:lang="x-default">Grandma at the lake</rdf:li>' in xmp
    assert "<photoforge:DateCirca>True</photoforge:DateCirca>" in xmp
    assert read_date_caption(load_image(path)) == (PhotoDate(1962, 7, circa=True), "Grandma at the lake")
    if fmt != "jpg":
        assert np.array_equal(load_image(path).pixels, image.pixels)  # 16 bits kept


def test_a_caption_beyond_ascii_goes_to_xmp_only(tmp_path):
    path = save_image(set_date_caption(ImageData(PIXELS), PhotoDate(1950), "Oma & Opa, Rügen"), tmp_path / "u.tif")
    assert _exif_of(path, "tif") == ("1950:01:01 00:00:00", None)
    assert read_date_caption(load_image(path)) == (PhotoDate(1950), "Oma & Opa, Rügen")


EXISTING = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
  xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmp:Rating="4" tiff:Orientation="1" photoshop:DateCreated="2001-05-06T10:00:00">
 <dc:creator><rdf:Seq><rdf:li>Studio Meier</rdf:li></rdf:Seq></dc:creator>
 <dc:description><rdf:Alt><rdf:li xml:lang="x-default">old caption</rdf:li></rdf:Alt></dc:description>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def test_existing_xmp_is_merged_not_clobbered(tmp_path):
    path = save_image(set_date_caption(ImageData(PIXELS, xmp=EXISTING), PhotoDate(1962, 7, 14), "new caption"),
                      tmp_path / "m.png")
    xmp = _xmp_of(path, "png").decode("utf-8")
    assert 'xmp:Rating="4"' in xmp and 'tiff:Orientation="1"' in xmp
    assert "<rdf:li>Studio Meier</rdf:li>" in xmp and "xmlns:xmp=" in xmp
    assert xmp.count("DateCreated") == 2 and "2001-05-06" not in xmp  # one element, open and close
    assert "old caption" not in xmp and xmp.count("<dc:description>") == 1
    assert read_date_caption(load_image(path)) == (PhotoDate(1962, 7, 14), "new caption")


def test_a_caption_alone_keeps_the_date_and_the_dialog_can_clear(tmp_path):
    dated = set_date_caption(ImageData(PIXELS, xmp=EXISTING), PhotoDate(1962), "first")
    recaptioned = set_date_caption(dated, caption="second")
    assert read_date_caption(recaptioned) == (PhotoDate(1962), "second")
    cleared = set_date_caption(recaptioned, None, None, clear=True)
    assert read_date_caption(cleared) == (None, None)
    assert b'xmp:Rating="4"' in cleared.xmp


def test_unreadable_xmp_is_replaced_and_said(tmp_path):
    image = ImageData(PIXELS, xmp=b"<x:xmpmeta><rdf:RDF>not closed")
    dated = set_date_caption(image, PhotoDate(1970), None)
    assert read_date_caption(dated) == (PhotoDate(1970), None)
    assert any("XMP metadata was unreadable" in n for n in dated.notices)


def test_other_exif_is_kept(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"
    exif.get_ifd(0x8769)[0x9004] = "2024:03:01 12:00:00"  # DateTimeDigitized: the scan, untouched
    path = save_image(set_date_caption(ImageData((PIXELS >> 8).astype(np.uint8), exif=exif.tobytes()),
                                       PhotoDate(1962, 7)), tmp_path / "e.jpg")
    with Image.open(path) as im:
        read = im.getexif()
        assert read[0x010F] == "ScanCo"
        assert read.get_ifd(0x8769)[0x9004] == "2024:03:01 12:00:00"
        assert read.get_ifd(0x8769)[0x9003] == "1962:07:01 00:00:00"


def test_an_unset_camera_date_does_not_hide_the_caption():
    exif = Image.Exif()
    exif[0x010E] = "Kiel harbour"
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    assert read_date_caption(ImageData(PIXELS, exif=exif.tobytes())) == (None, "Kiel harbour")
