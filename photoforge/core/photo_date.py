"""When a scanned print was taken, and its caption, written where photo software looks.

A print's date is often known only to the year or month. EXIF DateTimeOriginal cannot say
that: it is always "YYYY:MM:DD HH:MM:SS". EXIF 2.3 allows blanks for unknown digits, but
most readers then drop the date altogether, so the unknown parts are written as the first
of the month / of January at midnight (1962-07 → "1962:07:01 00:00:00"), which sorts right
everywhere. The real precision goes in XMP photoshop:DateCreated ("1962-07"), which is an
ISO 8601 date of any precision and is what Lightroom, digiKam and Bridge show. The caption
goes in XMP dc:description (x-default) and, when it is plain ASCII (the EXIF type), in EXIF
ImageDescription too. No standard field says "circa", so an estimate is marked by
photoforge:DateCirca="True" in XMP (a namespace of our own) beside the date.

Existing XMP is merged, not replaced: only the fields written here change; anything else in
the packet stays as it was.
"""
from __future__ import annotations

import contextlib
import datetime
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from PIL import Image

from .image import ImageData

_EXIF_IFD, _DATE_ORIGINAL, _DESCRIPTION = 0x8769, 0x9003, 0x010E
NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "photoforge": "http://ns.photoforge.invalid/1.0/",  # .invalid: reserved, so never anyone else's
}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DATE_CREATED = f"{{{NS['photoshop']}}}DateCreated"
_DC_DESCRIPTION = f"{{{NS['dc']}}}description"
_CIRCA = f"{{{NS['photoforge']}}}DateCirca"
_RDF = f"{{{NS['rdf']}}}"
FIRST_YEAR = 1826  # the oldest surviving photograph
_ISO = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
# A date inside a folder name: 1962, 1962-07, 1962_07_14, 1962.07.14, "Summer 1962", "ca 1962".
_IN_NAME = re.compile(r"(?<!\d)(?P<circa>(?<![a-z])(?:circa|approx|ca|c)\.?\s*|~\s*)?"
                      r"(?P<y>1[89]\d\d|2\d\d\d)(?:[-_. ](?P<m>\d\d)(?:[-_. ](?P<d>\d\d))?)?(?!\d)",
                      re.IGNORECASE)


class DateError(ValueError):
    """A date that cannot be written; the message says what is wrong with it."""


@dataclass(frozen=True)
class PhotoDate:
    year: int
    month: int | None = None
    day: int | None = None
    circa: bool = False

    def iso(self) -> str:
        """"1962", "1962-07" or "1962-07-14": the precision that is known."""
        parts = [f"{self.year:04d}"] + [f"{v:02d}" for v in (self.month, self.day) if v is not None]
        return "-".join(parts)

    def exif(self) -> str:
        return f"{self.year:04d}:{self.month or 1:02d}:{self.day or 1:02d} 00:00:00"

    def __str__(self) -> str:
        return ("circa " if self.circa else "") + self.iso()


def parse_date(text: str, circa: bool = False) -> PhotoDate:
    """YYYY, YYYY-MM or YYYY-MM-DD; DateError saying what is wrong."""
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise DateError(f"'{text}' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD (e.g. 1962-07)")
    year, month, day = (int(v) if v else None for v in match.groups())
    return _checked(text, year, month, day, circa)


def _checked(text: str, year: int, month: int | None, day: int | None, circa: bool) -> PhotoDate:
    this_year = datetime.date.today().year
    if not FIRST_YEAR <= year <= this_year:
        raise DateError(f"'{text}': the year must be {FIRST_YEAR}–{this_year}")
    if month is not None and not 1 <= month <= 12:
        raise DateError(f"'{text}': the month must be 01–12")
    if day is not None:
        try:
            datetime.date(year, month, day)
        except ValueError:
            raise DateError(f"'{text}': {year:04d}-{month:02d} has no day {day}") from None
    return PhotoDate(year, month, day, circa)


def date_in_name(name: str) -> PhotoDate | None:
    """The first date in a folder name, or None. A month or day that cannot be is left out
    (1962_13 → 1962); "ca", "c.", "circa", "approx" or "~" before it marks an estimate."""
    for match in _IN_NAME.finditer(name):
        year = int(match["y"])
        if not FIRST_YEAR <= year <= datetime.date.today().year:
            continue
        circa = bool(match["circa"])
        month = int(match["m"]) if match["m"] and 1 <= int(match["m"]) <= 12 else None
        day = int(match["d"]) if month and match["d"] else None
        try:
            return _checked(name, year, month, day, circa)
        except DateError:
            return PhotoDate(year, month, None, circa)
    return None


# ---------------------------------------------------------------- writing

def set_date_caption(image: ImageData, date: PhotoDate | None = None, caption: str | None = None, *,
                     clear: bool = False) -> ImageData:
    """`image` with the date and caption in its EXIF and XMP. None leaves a field as it is,
    unless `clear` (a dialog that shows every field): then None removes it."""
    exif = _exif_with(image, date, caption, clear)
    xmp = _xmp_with(image, date, caption, clear)
    return replace(image, exif=exif, xmp=xmp, notices=list(image.notices))


def _exif_with(image: ImageData, date: PhotoDate | None, caption: str | None, clear: bool) -> bytes | None:
    exif = Image.Exif()
    if image.exif:
        try:
            exif.load(image.exif)
        except Exception:  # noqa: BLE001 - hostile EXIF fails in many ways; start afresh, said so
            image.notices.append("the EXIF data was unreadable; it was replaced by the date and caption")
            exif = Image.Exif()
    sub = exif.get_ifd(_EXIF_IFD)
    if date is not None:
        sub[_DATE_ORIGINAL] = date.exif()
    elif clear:
        sub.pop(_DATE_ORIGINAL, None)
    if caption is not None and caption.isascii():
        exif[_DESCRIPTION] = caption
    elif caption is not None or clear:
        exif.pop(_DESCRIPTION, None)  # a different old caption would contradict the new one
    if not sub and _EXIF_IFD in exif:
        del exif[_EXIF_IFD]
    return exif.tobytes() if len(exif) or sub else None


def _xmp_with(image: ImageData, date: PhotoDate | None, caption: str | None, clear: bool) -> bytes:
    root = _parse_xmp(image)
    rdf = root if root.tag == _RDF + "RDF" else root.find(f".//{_RDF}RDF")
    descriptions = rdf.findall(_RDF + "Description")
    if not descriptions:
        descriptions = [ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})]
    changing = ([_DATE_CREATED, _CIRCA] if date is not None or clear else []) + \
        ([_DC_DESCRIPTION] if caption is not None or clear else [])
    for description in descriptions:
        for name in changing:
            description.attrib.pop(name, None)
            for child in description.findall(name):
                description.remove(child)
    target = descriptions[0]
    if date is not None:
        ET.SubElement(target, _DATE_CREATED).text = date.iso()
        if date.circa:
            ET.SubElement(target, _CIRCA).text = "True"
    if caption is not None:
        alt = ET.SubElement(ET.SubElement(target, _DC_DESCRIPTION), _RDF + "Alt")
        ET.SubElement(alt, _RDF + "li", {_XML_LANG: "x-default"}).text = caption
    for prefix, uri in NS.items():  # our prefixes, whatever the old packet registered
        ET.register_namespace(prefix, uri)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body
            + '\n<?xpacket end="w"?>').encode("utf-8")


def _parse_xmp(image: ImageData) -> ET.Element:
    """The image's XMP as a tree whose RDF can take new fields; a fresh one if it has none
    or it is unreadable (said in a notice)."""
    if image.xmp:
        text = image.xmp.decode("utf-8", "replace").lstrip("\ufeff \t\r\n\0")
        text = re.sub(r"<\?xpacket[^>]*\?>", "", text).strip().rstrip("\0")
        if "<!DOCTYPE" not in text and "<!ENTITY" not in text:  # no entity tricks in a photo's metadata
            try:
                import io

                for _, (prefix, uri) in ET.iterparse(io.StringIO(text), events=("start-ns",)):
                    if prefix and prefix not in NS:
                        try:  # keep the packet's own prefixes where they are legal to register
                            ET.register_namespace(prefix, uri)
                        except ValueError:
                            pass
                root = ET.fromstring(text)
                if root.tag == _RDF + "RDF" or root.find(f".//{_RDF}RDF") is not None:
                    return root
            except ET.ParseError:
                pass
        image.notices.append("the XMP metadata was unreadable; it was replaced by the date and caption")
    root = ET.Element(f"{{{NS['x']}}}xmpmeta")
    ET.SubElement(root, _RDF + "RDF")
    return root


# ---------------------------------------------------------------- reading

def read_date_caption(image: ImageData) -> tuple[PhotoDate | None, str | None]:
    """What set_date_caption wrote (or another program did): XMP first, then EXIF."""
    date = caption = None
    root = None
    if image.xmp and b"<!DOCTYPE" not in image.xmp and b"<!ENTITY" not in image.xmp:
        text = re.sub(r"<\?xpacket[^>]*\?>", "", image.xmp.decode("utf-8", "replace")).strip(" \t\r\n\0\ufeff")
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            root = None
    if root is not None:
        for description in root.iter(_RDF + "Description"):
            created = description.get(_DATE_CREATED) or description.findtext(_DATE_CREATED)
            circa = (description.get(_CIRCA) or description.findtext(_CIRCA) or "").strip() == "True"
            if created and date is None:
                try:
                    date = parse_date(created.strip()[:10], circa)
                except DateError:
                    pass
            node = description.find(_DC_DESCRIPTION)
            if node is not None and caption is None:
                items = node.findall(f".//{_RDF}li")
                chosen = next((li for li in items if li.get(_XML_LANG) == "x-default"), items[0] if items else None)
                caption = (chosen.text or "") if chosen is not None else None
    if image.exif and (date is None or caption is None):
        try:
            exif = Image.Exif()
            exif.load(image.exif)
            original = exif.get_ifd(_EXIF_IFD).get(_DATE_ORIGINAL)
            if date is None and isinstance(original, str) and re.fullmatch(r"\d{4}:\d\d:\d\d.*", original):
                with contextlib.suppress(DateError):  # "0000:00:00 …" is a camera's "unset"
                    date = parse_date(original[:10].replace(":", "-"))
            described = exif.get(_DESCRIPTION)
            # tifffile describes the array it wrote there ('{"shape": [h, w, 3]}'): not a caption
            if caption is None and isinstance(described, str) and not described.startswith('{"shape"'):
                caption = described
        except Exception:  # noqa: BLE001 - an unreadable EXIF date is no date
            pass
    return date, caption
