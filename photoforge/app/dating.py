"""`--date`, `--circa`, `--caption` and `--date-from-folder` for split, restore and adjust:
what each output gets, decided per input file.

With `--date-from-folder` the date comes from the name of the folder the file is in
(core/photo_date.date_in_name: "1962", "1962-07", "1962_07_14", "Summer 1962", "ca 1950");
where that name holds none, `--date` is used if given, else no date is written and a notice
says so. `--circa` marks every date written as an estimate.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from photoforge.app.batch import UsageError

if TYPE_CHECKING:  # the CLI imports this module for its options: --help stays instant
    from photoforge.core.image import ImageData
    from photoforge.core.photo_date import PhotoDate


def add_dating_options(parser) -> None:
    g = parser.add_argument_group("date and caption (written to EXIF and XMP)")
    g.add_argument("--date", metavar="YYYY[-MM[-DD]]",
                   help="when the photo was taken, as precisely as known, e.g. 1962 or 1962-07")
    g.add_argument("--circa", action="store_true", help="the date is an estimate")
    g.add_argument("--caption", metavar="TEXT", help="a caption (XMP dc:description, EXIF ImageDescription)")
    g.add_argument("--date-from-folder", action="store_true",
                   help="take each file's date from its folder's name (1962, 1962-07, 1962_07_14, "
                        "'ca 1950'); --date is used where the name holds none")


@dataclass(frozen=True)
class Dating:
    date: PhotoDate | None = None
    caption: str | None = None
    from_folder: bool = False
    circa: bool = False

    def stamp(self, image: ImageData, source: Path, say: Callable[[str], None]) -> ImageData:
        """`image` with this file's date and the caption; unchanged when there is neither."""
        from photoforge.core.photo_date import PhotoDate, date_in_name, set_date_caption

        date = self.date
        if self.from_folder:
            found = date_in_name(source.parent.name)
            if found is not None:
                date = PhotoDate(found.year, found.month, found.day, found.circa or self.circa)
            else:
                fallback = f"--date {self.date}" if self.date else "no date"
                say(f"notice: {source.name}: no date in its folder's name '{source.parent.name}'; "
                    f"{fallback} written")
        if date is None and self.caption is None:
            return image
        return set_date_caption(image, date, self.caption)

    def describe(self) -> dict:
        """For a batch's journal: what makes the outputs what they are."""
        return {"date": str(self.date) if self.date else None, "caption": self.caption,
                "from_folder": self.from_folder, "circa": self.circa}


def dating_from_args(args) -> Dating | None:
    """The options as given, or None when none was; UsageError for a bad date or caption."""
    if args.date is None and args.caption is None and not args.date_from_folder:
        if args.circa:
            raise UsageError("--circa marks a date as an estimate: give --date or --date-from-folder too")
        return None
    from photoforge.core.photo_date import DateError, parse_date

    date = None
    if args.date is not None:
        try:
            date = parse_date(args.date, circa=args.circa)
        except DateError as error:
            raise UsageError(f"--date {error}") from None
    if args.caption is not None and any(ord(c) < 32 and c not in "\t\n" for c in args.caption):
        raise UsageError("--caption holds control characters, which XMP cannot carry")
    return Dating(date, args.caption, args.date_from_folder, args.circa)
