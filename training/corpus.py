"""Public photo corpus for training and validating the damage detector.

    python -m training.corpus build [--out DIR] [--cache DIR] [--manifest PATH]

Sources (only package registries are reachable here, so every photo comes from a package).
The first round (81 photos: 62 train, 19 val; the shipped detector was trained and validated
on them):
  * Debian wallpaper packages (fetched with `apt-get download`, unpacked with `dpkg-deb -x`);
  * scikit-image's bundled `skimage.data` photos (the `train` extra installs it);
  * the photos among the test images in Pillow's sdist (`pip download --no-binary`);
  * the photos among OpenCV's sample data (Debian `opencv-doc`, examples/data and text/).
The second round (203 more, 284 in all; marked "since": 2 in the manifest):
  * GCompris's photos of animals, monuments, musicians and the sea floor (Debian
    `gcompris-qt-data`, read out of its Qt resource files);
  * Scratch 1.4's photographed stage backgrounds (Debian `scratch`);
  * KDE Palapeli's puzzle photos, Hugin's manual, scikit-learn's and SciPy's sample photos
    (Debian `palapeli-data`, `hugin-data`, `python3-sklearn`, `python3-scipy`);
  * more of Pillow's test photos (snow, a plane, camera MPOs) and mahotas's demo portrait
    (the pinned wheel from PyPI).
The third round (70 more, 354 in all; "since": 3), all of it the held-out split `val3`
(HELD_OUT_ROUNDS: no train share, so nothing is ever trained, tuned or mined on it; added when
val and val2 had both been benchmarked on):
  * KPhotoAlbum's demo album: people, pets, the Grand Canyon, snow (Debian `kphotoalbum`,
    turned upright as the album's index.xml records);
  * Tux Paint's photographed templates and two NOAA photos among its starters (`tuxpaint-data`);
  * LXQt's photographed wallpapers (`lxqt-themes`); Kalzium's lab-equipment photos
    (`kalzium-data`); two of Scribus's template photos (`scribus-data`); Qt's example photos
    (`qtbase5-examples`, `qtmultimedia5-examples`); Kodi's cinema photo (`kodi-data`).
The fourth round (45 more, 399 in all; "since": 4), all of it the held-out split `val4`
(HELD_OUT_ROUNDS; added when val3 had been benchmarked on):
  * Tux Typing's landscape backgrounds: glaciers, coasts, a cave, a volcano, and a seal
    (Debian `tuxtype-data`);
  * six of Scribus's public-domain template photos: a night skyline, moons, a canyon, a pizza
    (`scribus-template`);
  * labelme's example photos: PASCAL VOC people and a bus, a street, a shelf, a kitten, a dog
    (`labelme-examples`); libjxl's test photos, three of them CC0 from wesaturate
    (`libjxl-testdata`);
  * Kivy's, Qt Quick's and Lomiri's example photos (`python-kivy-examples`,
    `qtdeclarative5-examples`, `lomiri-ui-toolkit-examples`); SDDM's Maldives beach
    (`sddm-theme-maldives`), Budgie's Colosseum (`budgie-core`), CImg's parrot
    (`cimg-examples`), PyWavelets' grey aerial photo (`python3-pywt`, an .npz);
  * imgaug's quokka (the pinned wheel from PyPI).
Each stored file is recorded in training/corpus_manifest.json with its package, version,
path inside the package, licence (from the package's copyright file or the library's own
notes; where only the copyright file's catch-all `Files: *` stanza covers a file, the licence
says so), sha256 of the stored file, subject tag and split. The same command on another
machine rebuilds the same files, so the manifest is what is committed, not the photos.
A photo keeps its split and round from the committed manifest; a new round's photos are split
among themselves, per subject (VAL_SHARE), or all go to validation (HELD_OUT_ROUNDS), and are
listed after the earlier rounds.

Vector and abstract art is left out, and so are drawings, cartoons and paintings (GCompris's
word pictures, Scratch's drawn stages, Van Gogh): they have none of the fine texture that makes a
detector over-fire, and their flat gradients teach the network that anything sharp is
damage. A curated list (looked at once, by eye) does the work, and a statistic (share of
pixels with fine detail) backs it up for packages that change between versions.
"""
from __future__ import annotations

import argparse
import bz2
import fnmatch
import hashlib
import io
import json
import re
import struct
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "training" / "corpus_manifest.json"
DEFAULT_OUT = Path.home() / ".cache" / "photoforge-corpus"
MAX_SIDE = 1600
VAL_SHARE = 0.2

DEB_PACKAGES = (
    "plasma-workspace-wallpapers", "ukui-wallpapers", "gnome-backgrounds", "sway-backgrounds",
    "lomiri-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "mate-backgrounds",
)
PILLOW_VERSION = "13.0.0"
# OpenCV's sample photos, by path inside opencv-doc (Debian keeps the non-free Lena out of it).
# Left out: renders, charts, chessboards, logos, a painting (starry_night) and a press photo
# of a footballer (messi5), whose copyright the package's licence cannot cover.
OPENCV_DOC = "opencv-doc"
OPENCV_EXAMPLES = "usr/share/doc/opencv-doc/examples"
OPENCV_PHOTOS = (
    "data/aero1.jpg", "data/aero3.jpg", "data/aloeL.jpg", "data/apple.jpg", "data/baboon.jpg",
    "data/basketball1.png", "data/board.jpg", "data/box_in_scene.png", "data/building.jpg",
    "data/butterfly.jpg", "data/chicky_512.png", "data/ela_original.jpg", "data/fruits.jpg",
    "data/graf1.png", "data/HappyFish.jpg", "data/home.jpg", "data/leuvenA.jpg", "data/orange.jpg",
    "data/rubberwhale1.png", "data/smarties.png", "data/squirrel_cls.jpg", "data/stuff.jpg",
    "text/scenetext01.jpg", "text/scenetext02.jpg", "text/scenetext03.jpg", "text/scenetext04.jpg",
    "text/scenetext05.jpg", "text/scenetext06.jpg", "alphamat/input_images/plant.jpg", "hfs/data/000.jpg",
)

# Not photos (rendered, vector or abstract art), by file stem; chosen by eye from a contact sheet.
EXCLUDE = {
    # plasma-workspace-wallpapers: rendered or painted
    "Altai", "Autumn", "Canopee", "Cascade", "Cluster", "Elarun", "Flow", "FlyingKonqui",
    "Honeywave", "IceCold", "Kay", "Kokkini", "MilkyWay", "Opal", "PastelHills", "Patak",
    "SafeLanding", "Shell", "Volna",
    # ukui-wallpapers: all rendered
    "2004default", "calla", "city", "desert", "firstgeneration", "fluent-color",
    "focal-ubuntukylin", "goldfish", "rhythm", "rollpaper", "string", "the-mouse",
    # gnome-backgrounds 43: all rendered
    "adwaita-d", "adwaita-l", "grid-d", "grid-l", "licorice-d", "licorice-l", "pixels-d",
    "pixels-l", "symbolic-d", "symbolic-l", "truchet-d", "truchet-l", "vnc-d", "vnc-l",
    "wood-d", "wood-l",
    # lomiri: gradients, renders, composites
    "lomiri-default-background", "warty-final-ubuntu", "analogpattern_by_Peter_Nerlich",
    "free_by_Peter_Nerlich", "greentock_by_Peter_Nerlich", "umang_by_Abhishek_Mudgal",
    "Fossa_by_Jasper_Roks", "Infinite-Sea_by_Aury88", "Painting-Colors_by__herobrine7gamer",
    # mate-backgrounds: abstract and desktop art
    "Elephants", "Elephants_3840x2160", "Elephants_5640x3172", "Gulp", "Silk", "Spring",
    "Waves", "Arc-Colors-Transparent-Wallpaper", "Float-into-MATE", "GreenTraditional",
    "MATE-Stripes-Dark", "MATE-Stripes-Light", "Stripes", "Ubuntu-Mate-Cold-no-logo",
    "Ubuntu-Mate-Dark-no-logo", "Ubuntu-Mate-Radioactive-no-logo", "Ubuntu-Mate-Warm-no-logo",
    # sway-backgrounds: one logo on a gradient, at several sizes
    "Sway_Wallpaper_Blue_1136x640", "Sway_Wallpaper_Blue_1136x640_Portrait",
    "Sway_Wallpaper_Blue_1366x768", "Sway_Wallpaper_Blue_1920x1080", "Sway_Wallpaper_Blue_2048x1536",
    "Sway_Wallpaper_Blue_2048x1536_Portrait", "Sway_Wallpaper_Blue_768x1024",
    "Sway_Wallpaper_Blue_768x1024_Portrait",
    # scratch: drawn stages, and two photos with a flat court painted over them
    "party-room", "room1", "room2", "room3", "spotlight-stage", "woods-and-bench", "brick-wall1",
    "school2", "basketball-court1-a", "basketball-court1-b",
    # gcompris details: paintings
    "details-Eglise_dAuvers-sur-Oise_background", "details-Gogh4_background",
    "details-PortraitOfPereTanguy_background", "details-Van_Gogh_The_Night_Cafe_background",
    "details-VincentVanGogh0012_background", "details-VincentVanGogh0013_background",
    "details-VincentVanGogh0019_background", "details-VincentVanGoghBridge_background",
}

# Subject tags by stem (regex); everything else is "landscape", which dominates wallpapers.
SUBJECTS = (
    (r"^(chelsea|Kleiber.*|Dragonfly.*|LadyBird|TwoWings|friends_by.*|baboon|squirrel_cls|chicky_512|HappyFish|butterfly)$", "animal"),
    (r"^(camera|hopper)$", "portrait"),
    (r"^(brick|grass|gravel|Wood|RainDrops|Blinds|OneStandsOut|graf1)$", "texture"),
    (r"^(page|text|scenetext\d+)$", "text"),
    (r"^(hubble_deep_field|DarkestHour|summer_1am)$", "night"),
    (r"^(Grey|Bridge_by.*|building|leuvenA|home)$", "building"),
    (r"^(ColorfulCups|clock_motion|rocket|motorcycle_left|coins|Wine_by.*|moon|Picture_.*|fruits|orange|apple|smarties|stuff|board|box_in_scene|basketball1|rubberwhale1|ela_original)$", "object"),
    (r"^(flower|flower2|FreshFlower|YellowFlower|FallenLeaf|Garden|seeding_by.*|aloeL|plant)$", "plant"),
    # second round (new stems only, so no photo of the first round changes its tag)
    (r"^(erase|explore_world_animals|explore_farm_animals)-|^(face|european-honey-bee|panther-chameleon-female)$", "animal"),
    (r"^luispedro$", "portrait"),
    (r"^explore_world_music-", "people"),
    (r"^clickgame-sea\d$", "underwater"),
    (r"^(frozenpond|sugarshack|exif-72dpi-int)$", "snow"),
    (r"^(city-with-water|cincinnati-bridge|details-(NDP|OperaSidney|TowerBridgeLondon|Louvre.*)_background)$", "night"),
    (r"^(clothing-store|hall|kitchen|the-movies-inside|chalkboard|800px-C_Marchi-GrandCentral-adj)$", "indoor"),
    (r"^explore_monuments-canyondeChelly$", "landscape"),
    (r"^(explore_monuments|details)-|^(castle|castle-maintenon|mansion|houses|village|wooden-house|silos|"
     r"the-movies|parking-ramp|hallway_outdoors|brick-wall-and-stairs|building-.*|city-with-water2|"
     r"all-sports-mural|berkeley-mural|mural-faro|graffiti|china|CA_tCA00)$", "building"),
    (r"^(citrus-fruits|exif_gps_typeerror|xmp_test)$", "object"),
    (r"^(flower-bed|tree|garden-rock|CA_fringes00)$", "plant"),
    (r"^brick-wall2$", "texture"),
    # third round (new stems only; a stem of an earlier round keeps the tag it had)
    (r"^(anne_helene|bar55(_2)?|cold_water|grand_canyon_[12]|new_wave_[12]|pool_2|qt-logo|wayne)$", "people"),
    (r"^jesper(_2)?$", "portrait"),
    (r"^(blackie|donna(_2)?|spiff(_2)?|sheep|Butterfly-Kenneth-Wimer)$", "animal"),
    (r"^(jellyfish|reef-back)$", "underwater"),
    (r"^snow$", "snow"),
    (r"^(sunset|trees_at_dusk|skyline-sf-dusk-back)$", "night"),
    (r"^movie$", "indoor"),
    (r"^(burnt_bark|mossy_bark|mudstone|rocks|ocean_splash|leaves)$", "texture"),
    (r"^(corn_maze|mossy_log|redwoods_above|trees_above|sun_behind_leaves|spiders_web|appleflower|flowers|drop)$", "plant"),
    (r"^lighthouse$", "building"),
    (r"^(wool_mill_machine|abzug|becherglas|brenner|erlenmeyerkolben|rotationsverdampfer|spatel|trichter|verteiler)$",
     "object"),
    (r"^background$", "text"),
    # fourth round (new stems only; a stem of an earlier round keeps the tag it had)
    (r"^(2011_000003|2011_000006)$", "people"),
    (r"^(faust_github|0001|0002|hidden|quokka|parrot)$", "animal"),
    (r"^(kcas0|kcas3|kcas7)$", "snow"),
    (r"^(cityCC0|br2-sunset|br2-moon|br2-halfmoon|cal2-moon)$", "night"),
    (r"^hdr_room$", "indoor"),
    (r"^(cork|backgroundLeaves|demo_image_2|kcas10)$", "texture"),
    (r"^(tmshre_riaphotographs_srgb8|u76c0g_bliznaca_srgb8)$", "plant"),
    (r"^(Wall|00000100)$", "building"),
    (r"^(menu2-pizza|apc2016_obj3|2011_000025)$", "object"),
)
# Tags by stored file name, for a stem that an earlier round has too (Scratch's pool is a
# landscape, KPhotoAlbum's a game of pool).
SUBJECT_OF_FILE = {"kphotoalbum__pool": "people",
                   # round 4: SDDM's Maldives beach and Budgie's Colosseum (Qt's "background" is text)
                   "sddm-theme-maldives__background": "landscape", "budgie-core__default": "building"}

# scikit-image photos: file in skimage/data → licence from the library's docstrings.
# astronaut and coffee are the README samples (resources/samples): held out entirely.
SKIMAGE = {
    "brick.png": "CC0 (CC0Textures)", "camera.png": "CC0 (Lav Varshney)",
    "chelsea.png": "CC0 (Stefan van der Walt)", "clock_motion.png": "public domain (Stefan van der Walt)",
    "coins.png": "no known copyright restrictions", "grass.png": "CC0 (CC0Textures)",
    "gravel.png": "CC0 (CC0Textures)", "hubble_deep_field.jpg": "public domain (NASA)",
    "moon.png": "no known copyright restrictions", "motorcycle_left.png": "Middlebury stereo data, research use",
    "page.png": "no known copyright restrictions", "rocket.jpg": "public domain (SpaceX)",
    "text.png": "public domain",
}
HELD_OUT = ("astronaut", "coffee")
# Pillow's test photos (hopper = Grace Hopper, US Navy, public domain).
PILLOW = {
    "Tests/images/hopper.png": "public domain (US Navy photo); file from Pillow, MIT-CMU",
    "Tests/images/flower.jpg": "Pillow test image, MIT-CMU",
    "Tests/images/flower2.jpg": "Pillow test image, MIT-CMU",
}

# --- the second round of sources (added once the first 81 photos were fixed) ---------------
# Packages whose photos are picked by path; everything else in them is art, icons or screenshots.
MORE_DEBS = {
    # KDE's jigsaw puzzles: five photos, each with its licence in the puzzle's .desktop file.
    "palapeli-data": ("usr/share/palapeli/collection/*.jpg",),
    # Scratch 1.4's media library: the stage backgrounds (480×360); the .gif ones are drawn.
    "scratch": ("usr/share/scratch/Media/Backgrounds/*/*.jpg",),
    # Hugin's manual: the photos of its chromatic-aberration page and a stitched panorama.
    "hugin-data": tuple(f"usr/share/hugin/xrc/data/help_en_EN/{f}.jpg"
                        for f in ("CA_fringes00", "CA_tCA00", "800px-C_Marchi-GrandCentral-adj")),
    "python3-sklearn": ("usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg",),
}
# Licences stated next to the photo rather than in the package's copyright file.
LICENCE_NOTES = {
    ("python3-sklearn", "china"): "CC-BY-2.0 (sklearn/datasets/images/README.txt: Flickr, danielbuechele)",
    ("python3-sklearn", "flower"): "CC-BY-2.0 (sklearn/datasets/images/README.txt: Flickr, vultilion)",
}
# GCompris keeps its activities' pictures in Qt resource files (usr/share/gcompris-qt/rcc/NAME.rcc);
# these activities hold photos (animals, monuments, musicians, the sea floor). Pictures under
# 500 px on the long side or 256 px on the short side are sprites and thumbnails.
GCOMPRIS = "gcompris-qt-data"
GCOMPRIS_ACTIVITIES = ("erase", "explore_world_animals", "explore_farm_animals", "explore_monuments",
                       "explore_world_music", "clickgame", "details")
# scipy.misc's raccoon (bz2 of raw 768×1024 RGB; ascent.dat is a pickle and grey, left out).
SCIPY = "python3-scipy"
SCIPY_FACE = "usr/lib/python3/dist-packages/scipy/misc/face.dat"
SCIPY_FACE_LICENCE = "public domain (scipy.misc.face docstring: raccoon-procyon-lotor.jpg, public-domain-image.com)"
# More of Pillow's test photos (its sdist's licence; MPOs are camera files, decoded as their
# first frame). Left out: junk_jpeg_header.jpg (a stock-photo number printed on it).
PILLOW_MORE = {f"Tests/images/{f}": "Pillow test image, MIT-CMU" for f in (
    "frozenpond.mpo", "sugarshack.mpo", "fujifilm.mpo", "exif-72dpi-int.jpg", "exif_gps_typeerror.jpg",
    "xmp_test.jpg")}
# mahotas's demo photo of its author (the wheel is MIT; its Wally and Lena are left out).
MAHOTAS_VERSION = "1.4.18"
MAHOTAS = {"mahotas/demos/data/luispedro.jpg": "MIT (mahotas, photo of its author)"}

# --- the third round: val3, held out whole (added once val and val2 had been benchmarked) --
# Rounds whose photos all go to validation (no train share): nobody trains or tunes on them.
HELD_OUT_ROUNDS = (3, 4)
# Picked by path, each looked at on a contact sheet; everything else in these packages is
# screenshots, icons, renders or art. Left out by eye: KPhotoAlbum's manual screenshots and
# splash; Tux Paint's drawn starters (chicken, jet plane, street, maps, frames); LXQt's
# rendered wallpapers (origami, triangles, waves, plasma, simple_blue); Qt's advert, logos,
# swirls, thumbnails and its cubemap (a rendered lake); Kodi's music.jpg (a composite: beams
# and a cut-out crowd); Kalzium's lab photos under 400 px on the long side or 250 px on the
# short; Scribus's two thumbnail-sized photos (an_image, author).
# Looked at and not used: stellarium-data (its landscapes are panorama slices with the sky cut
# out, its nebulae black-sky crops whose permissions are listed photo by photo in a free-form
# file), gimp-help-en (screenshots, and one Taj Mahal under a hundred filters), cimg-doc
# (photographed postcards), tuxmath-data (composited space scenes), krita-data and
# digikam-data (tiles and renders), fotoxx-common, kdenlive-data, kstars-data, marble-data,
# extremetuxracer-data, desktop-base, xfdesktop4-data, imagemagick-6-doc (tone variants of
# one photo), openshot-qt.
_QT = "usr/lib/x86_64-linux-gnu/qt5/examples"
ROUND3_DEBS = {
    # KPhotoAlbum's demo album: people, pets, the Grand Canyon, Skagen, snow.
    "kphotoalbum": ("usr/share/kphotoalbum/demo/*.jpg",),
    # Tux Paint's photographed templates, and two NOAA photos among its starters.
    "tuxpaint-data": ("usr/share/tuxpaint/templates/*.jpg", "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg",
                      "usr/share/tuxpaint/starters/reef-back.png"),
    "lxqt-themes": tuple(f"usr/share/lxqt/wallpapers/{f}" for f in (
        "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png", "beam.png",
        "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg", "this-is-not-windows.jpg")),
    "qtbase5-examples": tuple(f"{_QT}/widgets/{f}" for f in ("painting/composition/flower.jpg",
                                                              "effects/fademessage/background.jpg")),
    "qtmultimedia5-examples": (f"{_QT}/multimedia/video/qmlvideo/images/leaves.jpg",),
    "kodi-data": ("usr/share/kodi/addons/skin.estuary/extras/home-images/movie.jpg",),
    "kalzium-data": tuple(f"usr/share/kalzium/data/toolpics/{f}.jpg" for f in (
        "abzug", "becherglas", "brenner", "erlenmeyerkolben", "rotationsverdampfer", "spatel", "trichter",
        "verteiler")),
    "scribus-data": ("usr/share/scribus/templates/nl1/kites.jpg", "usr/share/scribus/templates/nl2/flowers.jpg"),
}
_LXQT_STEFONARCH = ("after-the-rain", "appleflower", "beam", "butterfly", "drop", "flowers", "fog", "this-is-not-windows")
LICENCE_NOTES.update({
    ("tuxpaint-data", "skyline-sf-dusk-back"): "public domain (AUTHORS.txt: NOAA photo library line1989, Rich Bourgerie)",
    ("tuxpaint-data", "reef-back"): "public domain (AUTHORS.txt: NOAA photo library reef2583, Thomas K. Gibson)",
    **{("lxqt-themes", s): "CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License: stefonarch)" for s in _LXQT_STEFONARCH},
    **{("lxqt-themes", s): "CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License; the copyright file's Files: * says LGPL-2.1+)"
       for s in ("Butterfly-Kenneth-Wimer", "Valendas", "cloud")},
})
# KPhotoAlbum's copyright file is free-form, with one licence for the whole package.
PACKAGE_LICENCE = {"kphotoalbum": "GPL-2+ (the free-form copyright file's licence for the whole package)"}
KPA_INDEX = "usr/share/kphotoalbum/demo/index.xml"

# --- the fourth round: val4, held out whole (added once val3 had been benchmarked) ---------
# Picked by path, each looked at on a contact sheet; the rest of these packages is icons,
# screenshots, renders, drawings and thumbnails. Left out by eye: Tux Typing's four space
# backgrounds (telescope composites) and its themes' 300 px photos; Kivy's Ill1 (a composite),
# Bubbles and the showcase background (renders), tex3 (glitter, not a scene) and the second
# faust_github (the same cat); Qt Quick's samegame bokeh (a render), its food thumbnails and
# logos; labelme's annotated copies, four more frames of the same street clip and its
# primitives drawing; libjxl's tone and subsampling variants of the flower, the grey copy
# of keong_macan, 64 px crops, colour charts and pngsuite; SDDM Maldives' maldives.jpg (a
# screenshot of the greeter); Scribus's teriyaki (302 px) and kites-bw (round 3's kites in
# grey); CImg's milla (211 px); xmorph's masked face pairs (232 px on black).
# Looked at and not used: jigzo-data (its puzzles keep the photo only as a 232 px thumbnail
# and a sheet of cut-out pieces), gtkmorph-example, wx3.2-examples (a 200 px horse),
# qtquickcontrols2-5-examples (an illustrated album cover, a render), insighttoolkit5-examples
# (MRI slices), pyqt5-examples (Qt's advert, rendered tiles), debian-edu-artwork-emerald,
# debian-edu-doc-en (screenshots), k3b-extrathemes, sugar-themes, eterm, desktopfolder, python3-psd-tools-doc, python3-vedo-examples,
# python-matplotlib-data (only Grace Hopper, whom round 1 has), pysiogame, gbrainy, khangman,
# kanagram, lbreakout2-data, mypaint-data, calligrastage-data, arctica-greeter, fluxbox,
# gtk-4-examples (its rose is compiled into the demo binary), and the wheels of ursina
# (painted skies) and pyvista (a logo and an Earth map).
_JXL = "usr/share/libjxl-testdata"
_LABELME = "usr/share/doc/labelme-examples/examples"
_KIVY = "usr/share/kivy-examples"
ROUND4_DEBS = {
    # Tux Typing's backgrounds: glaciers, coasts, a cave, rice terraces, a volcano; and a seal.
    "tuxtype-data": ("usr/share/tuxtype/images/kcas*.jpg", "usr/share/tuxtype/images/hidden.jpg"),
    # Riku Leino's public-domain templates: a night skyline, moons, a canyon, a pizza.
    "scribus-template": tuple(f"usr/share/scribus/templates/{f}.jpg" for f in (
        "br2/halfmoon", "br2/moon", "br2/nature", "br2/sunset", "cal2/moon", "menu2/pizza")),
    # labelme's examples: PASCAL VOC photos (people, a bus), a street, a shelf, a kitten, a dog.
    "labelme-examples": tuple(f"{_LABELME}/{f}.jpg" for f in (
        "semantic_segmentation/data_annotated/2011_000003", "semantic_segmentation/data_annotated/2011_000006",
        "semantic_segmentation/data_annotated/2011_000025", "video_annotation/data_annotated/00000100",
        "tutorial/apc2016_obj3", "classification/data_annotated/0001", "classification/data_annotated/0002")),
    # libjxl's test photos: a flower, a room, and three CC0 wesaturate photos (500 px, sRGB).
    "libjxl-testdata": (f"{_JXL}/jxl/flower/flower.png", f"{_JXL}/jxl/hdr_room.png",
                        *(f"{_JXL}/external/wesaturate/500px/{f}_srgb8.png"
                          for f in ("cvo9xd_keong_macan", "tmshre_riaphotographs", "u76c0g_bliznaca"))),
    "python-kivy-examples": (f"{_KIVY}/demo/pictures/images/faust_github.jpg", f"{_KIVY}/demo/pictures/images/Wall.jpg",
                             f"{_KIVY}/widgets/cityCC0.png"),
    "qtdeclarative5-examples": tuple(f"{_QT}/quick/{f}" for f in (
        "particles/images/backgroundLeaves.jpg", "touchinteraction/flickable/content/cork.jpg",
        "customitems/scrollbar/pics/niagara_falls.jpg")),
    "lomiri-ui-toolkit-examples": tuple(f"{_QT}/lomiri-ui-toolkit/examples/lomiri-ui-toolkit-gallery/{f}"
                                        for f in ("demo_image.jpg", "demo_image_2.png", "demo_image_3.png")),
    "sddm-theme-maldives": ("usr/share/sddm/themes/maldives/background.jpg",),
    "budgie-core": ("usr/share/backgrounds/budgie/default.jpg",),
    "cimg-examples": ("usr/share/doc/cimg-dev/examples/img/parrot.ppm",),
    # PyWavelets' grey aerial photo (a 512×512 uint8 array in an .npz).
    "python3-pywt": ("usr/lib/python3/dist-packages/pywt/data/aero.npz",),
}
# Packages whose picked photos sit in folders of the same file name: the folder joins the stem.
ROUND4_FOLDER_STEMS = ("scribus-template",)
PACKAGE_LICENCE.update({
    "tuxtype-data": "GPL-2 (the free-form copyright file's licence for the whole package; "
                    "images/README_IMAGES.TXT: featured pictures from Wikimedia Commons, freely distributable)",
    "scribus-template": "public domain (the free-form copyright file: Riku Leino's templates br2, cal2 and menu2)",
})
# imgaug's demo photo of a quokka (the wheel is MIT and says nothing else of the photo).
IMGAUG_VERSION = "0.4.0"
IMGAUG = {"imgaug/quokka.jpg": "MIT (imgaug's licence; the wheel names no other for its quokka photo)"}


@dataclass
class Candidate:
    stem: str
    source: str
    package: str
    version: str
    path: str
    licence: str
    data: bytes = field(repr=False)


# --- Debian packages ---------------------------------------------------------------------

def fetch_debs(cache: Path, packages=(*DEB_PACKAGES, OPENCV_DOC)) -> dict[str, Path]:
    """Downloads (once) and unpacks each package; returns package → unpacked root."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "download", *missing], check=True, cwd=debs)
    roots = {}
    for pkg in packages:
        deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        root = cache / "x" / pkg
        if not root.exists():
            root.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        roots[pkg] = root
    return roots


def deb_version(cache: Path, pkg: str) -> str:
    deb = sorted((cache / "debs").glob(f"{pkg}_*.deb"))[-1]
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True,
                          capture_output=True, text=True).stdout.strip()


def licence_for(copyright_text: str, path: str, catch_all: bool = True) -> str | None:
    """DEP-5: the last stanza whose Files pattern matches wins; else the 'Licensed under'
    sentence of a free-form file; else the first License field. With catch_all=False, only a
    stanza that names the file (not `Files: *`) counts, and None says there is none."""
    found = None
    for stanza in re.split(r"\n\s*\n", copyright_text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", stanza, re.M)
        lic = re.search(r"^License:\s*(\S.*)$", stanza, re.M)
        # Source trees and installed trees differ in folders (16.04/x.jpg installs as
        # backgrounds/x.jpg), so a pattern with a folder also matches by its file name.
        if files and lic and any((pat == "*" and catch_all) or (pat != "*" and fnmatch.fnmatch(path, "*" + pat.lstrip("*")))
                                 or ("/" in pat and "*" not in pat and Path(path).name == Path(pat).name)
                                 for pat in files.group(1).split()):
            found = lic.group(1).strip()
    if found or not catch_all:
        return found
    m = re.search(r"Licensed under ([^\n.]+)", copyright_text)
    if m:
        return m.group(1).strip()
    m = re.search(r"^License:\s*(\S.*)$", copyright_text, re.M)
    return m.group(1).strip() if m else "see package copyright file"


def _wh(name: str) -> int:
    m = re.match(r"(\d+)x(\d+)", name)
    return int(m.group(1)) * int(m.group(2)) if m else 0


def deb_candidates(cache: Path) -> list[Candidate]:
    out = []
    roots = fetch_debs(cache)
    out += opencv_candidates(cache, roots.pop(OPENCV_DOC))
    for pkg, root in roots.items():
        version = deb_version(cache, pkg)
        copyright_text = (root / "usr/share/doc" / pkg / "copyright").read_text(errors="replace")
        share = root / "usr/share"
        files = []
        # Plasma: one image per wallpaper, the largest light variant (others are rescales).
        for d in sorted((share / "wallpapers").glob("*/contents/images")):
            imgs = sorted(d.iterdir(), key=lambda p: _wh(p.name))
            if imgs:
                files.append((d.parents[1].name, imgs[-1]))
        for p in sorted((share / "backgrounds").rglob("*")) if (share / "backgrounds").exists() else []:
            if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
                files.append((p.stem, p))
        for stem, p in files:
            rel = str(p.relative_to(root))
            out.append(Candidate(stem, "debian", pkg, version, "/" + rel,
                                 licence_for(copyright_text, rel), p.read_bytes()))
    return out


def opencv_candidates(cache: Path, root: Path) -> list[Candidate]:
    version = deb_version(cache, OPENCV_DOC)
    copyright_text = (root / "usr/share/doc" / OPENCV_DOC / "copyright").read_text(errors="replace")
    out = []
    for rel in OPENCV_PHOTOS:
        p = root / OPENCV_EXAMPLES / rel
        if p.exists():  # samples come and go between versions
            # Debian's copyright names the upstream tree (samples/...), not the installed one.
            lic = licence_for(copyright_text, "samples/" + rel)
            out.append(Candidate(p.stem, "debian", OPENCV_DOC, version, f"/{OPENCV_EXAMPLES}/{rel}", lic, p.read_bytes()))
    return out


def skimage_candidates() -> list[Candidate]:
    import skimage
    import skimage.data

    d = Path(skimage.data.__file__).parent
    return [Candidate(Path(f).stem, "pypi", "scikit-image", skimage.__version__,
                      f"skimage/data/{f}", lic, (d / f).read_bytes())
            for f, lic in SKIMAGE.items() if (d / f).exists()]


def pillow_candidates(cache: Path, members: dict[str, str] = PILLOW) -> list[Candidate]:
    sdist_dir = cache / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    sdists = list(sdist_dir.glob(f"pillow-{PILLOW_VERSION}.tar.gz"))
    if not sdists:
        subprocess.run(["pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"pillow=={PILLOW_VERSION}", "-d", str(sdist_dir)], check=True)
        sdists = list(sdist_dir.glob(f"pillow-{PILLOW_VERSION}.tar.gz"))
    out = []
    with tarfile.open(sdists[0]) as tf:
        for m in tf.getmembers():
            rel = m.name.split("/", 1)[-1]
            if rel in members:
                out.append(Candidate(Path(rel).stem, "pypi", "pillow (sdist)", PILLOW_VERSION, rel,
                                     members[rel], tf.extractfile(m).read()))
    return out


def _deb_licence(copyright_text: str, path: str) -> str:
    """The stanza that names the file; else the catch-all's licence, said to be that."""
    return (licence_for(copyright_text, path, catch_all=False)
            or f"{licence_for(copyright_text, path)} (the copyright file's Files: * stanza; none names this file)")


def rcc_files(buf: bytes) -> dict[str, bytes]:
    """path → bytes of every file in a Qt resource file (rcc format 1–3, zlib-compressed or not)."""
    if buf[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node = 14 if version == 1 else 22
    if version >= 3 and struct.unpack(">I", buf[20:24])[0] & ~1:
        raise ValueError("rcc compression other than zlib")

    def name(off: int) -> str:
        n = struct.unpack(">H", buf[names + off:names + off + 2])[0]
        return buf[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    out: dict[str, bytes] = {}

    def walk(i: int, prefix: str) -> None:
        o = tree + i * node
        name_off, flags = struct.unpack(">IH", buf[o:o + 6])
        path = prefix + name(name_off) if i else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", buf[o + 6:o + 14])
            for child in range(first, first + count):
                walk(child, path + "/" if i else "")
            return
        at = data + struct.unpack(">I", buf[o + 10:o + 14])[0]
        size = struct.unpack(">I", buf[at:at + 4])[0]
        blob = buf[at + 4:at + 4 + size]
        out[path] = zlib.decompress(blob[4:]) if flags & 1 else blob  # qCompress: length, then zlib

    walk(0, "")
    return out


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image
    return Image.open(io.BytesIO(data)).size


def gcompris_candidates(cache: Path, root: Path) -> list[Candidate]:
    version = deb_version(cache, GCOMPRIS)
    copyright_text = (root / "usr/share/doc" / GCOMPRIS / "copyright").read_text(errors="replace")
    out = []
    for activity in GCOMPRIS_ACTIVITIES:
        rcc = f"usr/share/gcompris-qt/rcc/{activity}.rcc"
        for inner, data in sorted(rcc_files((root / rcc).read_bytes()).items()):
            if Path(inner).suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
                continue
            w, h = _image_size(data)
            if max(w, h) < 500 or min(w, h) < 256:
                continue
            # The copyright file names files by their source path (src/activities/...).
            out.append(Candidate(f"{activity}-{Path(inner).stem}", "debian", GCOMPRIS, version, f"/{rcc}:{inner}",
                                 _deb_licence(copyright_text, inner), data))
    return out


def _desktop_licence(p: Path) -> str | None:
    desktop = p.with_suffix(".desktop")
    m = desktop.exists() and re.search(r"^X-KDE-PluginInfo-License=(.+)$", desktop.read_text(errors="replace"), re.M)
    return f"{m.group(1).strip()} (the puzzle's {desktop.name})" if m else None


def scipy_face(root: Path) -> bytes:
    rgb = np.frombuffer(bz2.decompress((root / SCIPY_FACE).read_bytes()), np.uint8).reshape(768, 1024, 3)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    return buf.tobytes()


def pypi_wheel(cache: Path, name: str, version: str) -> Path:
    """The pinned wheel for this machine's kind (manylinux x86-64, CPython 3.11), downloaded once."""
    d = cache / "wheels"
    d.mkdir(parents=True, exist_ok=True)
    found = sorted(d.glob(f"{name}-{version}-*.whl"))
    if not found:
        subprocess.run(["pip", "download", "--no-deps", "--only-binary", ":all:", "--platform", "manylinux2014_x86_64",
                        "--python-version", "3.11", "--implementation", "cp", f"{name}=={version}", "-d", str(d)],
                       check=True)
        found = sorted(d.glob(f"{name}-{version}-*.whl"))
    return found[0]


def more_candidates(cache: Path) -> list[Candidate]:
    """The second round's sources, after the first round's so that a near-duplicate of an
    earlier photo is always the newcomer that is dropped."""
    roots = fetch_debs(cache, (*MORE_DEBS, GCOMPRIS, SCIPY))
    out = []
    for pkg, patterns in MORE_DEBS.items():
        root, version = roots[pkg], deb_version(cache, pkg)
        copyright_text = (root / "usr/share/doc" / pkg / "copyright").read_text(errors="replace")
        for pattern in patterns:
            for p in sorted(root.glob(pattern)):
                rel = str(p.relative_to(root))
                lic = LICENCE_NOTES.get((pkg, p.stem)) or _desktop_licence(p) or _deb_licence(copyright_text, rel)
                out.append(Candidate(p.stem, "debian", pkg, version, "/" + rel, lic, p.read_bytes()))
    out += gcompris_candidates(cache, roots[GCOMPRIS])
    out.append(Candidate("face", "debian", SCIPY, deb_version(cache, SCIPY), "/" + SCIPY_FACE,
                         SCIPY_FACE_LICENCE, scipy_face(roots[SCIPY])))
    out += pillow_candidates(cache, PILLOW_MORE)
    with zipfile.ZipFile(pypi_wheel(cache, "mahotas", MAHOTAS_VERSION)) as zf:
        out += [Candidate(Path(rel).stem, "pypi", "mahotas", MAHOTAS_VERSION, rel, lic, zf.read(rel))
                for rel, lic in MAHOTAS.items()]
    return out


def kpa_angles(root: Path) -> dict[str, int]:
    """file name → the rotation (degrees clockwise) that KPhotoAlbum's demo album records for it."""
    import xml.etree.ElementTree as ET
    return {im.get("file"): int(im.get("angle") or 0) for im in ET.parse(root / KPA_INDEX).getroot().iter("image")}


def rotated(data: bytes, angle: int) -> bytes:
    """The photo turned `angle` degrees clockwise, as PNG (lossless; the build stores JPEG)."""
    turn = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[angle]
    ok, buf = cv2.imencode(".png", cv2.rotate(decode(data), turn))
    assert ok
    return buf.tobytes()


def _round_debs(cache: Path, debs: dict[str, tuple], stem_of=None, prepare=None) -> list[Candidate]:
    """Candidates from a round's Debian packages ({package: path patterns}), in that order,
    each file's licence by LICENCE_NOTES, PACKAGE_LICENCE or its copyright file.
    stem_of(pkg, path) names a file (default: its stem); prepare(pkg, root, path, data)
    turns its bytes into the stored photo (default: as they are)."""
    roots = fetch_debs(cache, tuple(debs))
    out = []
    for pkg, patterns in debs.items():
        root, version = roots[pkg], deb_version(cache, pkg)
        copyright_text = (root / "usr/share/doc" / pkg / "copyright").read_text(errors="replace")
        for pattern in patterns:
            for p in sorted(root.glob(pattern)):
                rel = str(p.relative_to(root))
                stem = stem_of(pkg, p) if stem_of else p.stem
                lic = LICENCE_NOTES.get((pkg, stem)) or PACKAGE_LICENCE.get(pkg) or _deb_licence(copyright_text, rel)
                data = p.read_bytes()
                out.append(Candidate(stem, "debian", pkg, version, "/" + rel, lic,
                                     prepare(pkg, root, p, data) if prepare else data))
    return out


def round3_candidates(cache: Path) -> list[Candidate]:
    """The third round's sources, after the first two rounds' (a near-duplicate of an earlier
    photo is the newcomer that is dropped). KPhotoAlbum's photos are turned upright as its
    index records."""
    angles: dict[Path, dict[str, int]] = {}

    def upright(pkg: str, root: Path, p: Path, data: bytes) -> bytes:
        if pkg != "kphotoalbum":
            return data
        angle = angles.setdefault(root, kpa_angles(root)).get(p.name)
        return rotated(data, angle) if angle else data

    return _round_debs(cache, ROUND3_DEBS, prepare=upright)


def npz_png(data: bytes) -> bytes:
    """The one array of an .npz (a grey or RGB uint8 image) as PNG."""
    with np.load(io.BytesIO(data)) as z:
        a = z[z.files[0]]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(a if a.ndim == 2 else a[..., ::-1]))
    assert ok
    return buf.tobytes()


def round4_candidates(cache: Path) -> list[Candidate]:
    """The fourth round's sources, after the first three rounds' (a near-duplicate of an earlier
    photo is the newcomer that is dropped)."""
    out = _round_debs(
        cache, ROUND4_DEBS,
        stem_of=lambda pkg, p: f"{p.parent.name}-{p.stem}" if pkg in ROUND4_FOLDER_STEMS else p.stem,
        prepare=lambda pkg, root, p, data: npz_png(data) if p.suffix == ".npz" else data)
    with zipfile.ZipFile(pypi_wheel(cache, "imgaug", IMGAUG_VERSION)) as zf:
        out += [Candidate(Path(rel).stem, "pypi", "imgaug", IMGAUG_VERSION, rel, lic, zf.read(rel))
                for rel, lic in IMGAUG.items()]
    return out


# --- selection, storage, split -----------------------------------------------------------

def decode(data: bytes) -> np.ndarray | None:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:  # webp/16-bit oddities: let Pillow try
        try:
            from PIL import Image
            img = cv2.cvtColor(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), cv2.COLOR_RGB2BGR)
        except Exception:
            return None
    return img


def detail_share(bgr: np.ndarray) -> float:
    """Share of pixels with fine detail (|g − blur(g)| ≥ 2/255): photos have grain and
    texture almost everywhere, rendered art has it only along a few edges."""
    g = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    f = 512 / max(g.shape)
    if f < 1:
        g = cv2.resize(g, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return float((np.abs(g - cv2.GaussianBlur(g, (0, 0), 1.0)) >= 2).mean())


def thumb_key(bgr: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)


def subject_of(stem: str, package: str = "") -> str:
    name = f"{package.split()[0]}__{stem}" if package else ""
    if name in SUBJECT_OF_FILE:
        return SUBJECT_OF_FILE[name]
    for pat, tag in SUBJECTS:
        if re.match(pat, stem):
            return tag
    return "landscape"


def shrink(bgr: np.ndarray) -> np.ndarray:
    f = MAX_SIDE / max(bgr.shape[:2])
    return cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else bgr


def assign_splits(entries: list[dict]) -> None:
    """Per subject, the photos whose id hashes lowest go to validation (≥ 1 of any subject
    with ≥ 2 photos), so rare subjects land on both sides and the split never changes
    when a photo is added elsewhere."""
    by_subject: dict[str, list[dict]] = {}
    for e in entries:
        by_subject.setdefault(e["subject"], []).append(e)
    for group in by_subject.values():
        group.sort(key=lambda e: hashlib.sha256(e["id"].encode()).hexdigest())
        n_val = max(1, round(VAL_SHARE * len(group))) if len(group) >= 2 else 0
        for i, e in enumerate(group):
            e["split"] = "val" if i < n_val else "train"


def build(out: Path, cache: Path, manifest: Path = MANIFEST, min_detail: float = 0.005) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    # A photo keeps the split it had in the committed manifest, so a model trained on an
    # earlier corpus is never scored on photos it was trained on; new photos are split
    # among themselves. A photo also keeps the round it came in ("since", absent for the
    # first), and the manifest lists the rounds in order, so that the first photos of a
    # split (a bench's --limit) stay the same ones when a round is added.
    known = {e["id"]: e for e in load_manifest(manifest)["photos"]} if manifest.exists() else {}
    this_round = max((e.get("since", 1) for e in known.values()), default=0) + 1
    cands = (deb_candidates(cache) + skimage_candidates() + pillow_candidates(cache) + more_candidates(cache)
             + round3_candidates(cache) + round4_candidates(cache))
    entries, keys, skipped = [], [], []
    for c in cands:
        if c.stem in EXCLUDE or c.stem in HELD_OUT:
            skipped.append((c.stem, "excluded"))
            continue
        bgr = decode(c.data)
        if bgr is None:
            skipped.append((c.stem, "undecodable"))
            continue
        if detail_share(bgr) < min_detail:
            skipped.append((c.stem, "no fine detail"))
            continue
        key = thumb_key(bgr)
        if any(np.abs(key - k).mean() < 4 for k in keys):  # same picture from another package
            skipped.append((c.stem, "duplicate"))
            continue
        keys.append(key)
        bgr = shrink(bgr)
        name = f"{c.package.split()[0]}__{c.stem}.jpg"
        assert all(e["file"] != name for e in entries), name
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        (out / name).write_bytes(buf.tobytes())
        entries.append({
            "id": f"{c.package}:{c.path}", "file": name, "source": c.source, "package": c.package,
            "version": c.version, "path": c.path, "licence": c.licence,
            "sha256": hashlib.sha256(buf.tobytes()).hexdigest(), "subject": subject_of(c.stem, c.package),
            "width": int(bgr.shape[1]), "height": int(bgr.shape[0]),
        })
    new = [e for e in entries if e["id"] not in known]
    if this_round in HELD_OUT_ROUNDS:
        for e in new:
            e["split"] = "val"
    else:
        assign_splits(new)
    for e in entries:
        if e["id"] in known:
            e["split"] = known[e["id"]]["split"]
            if "since" in known[e["id"]]:
                e["since"] = known[e["id"]]["since"]
        elif this_round > 1:
            e["since"] = this_round
    entries.sort(key=lambda e: (e.get("since", 1), e["file"]))
    doc = {"max_side": MAX_SIDE, "held_out": list(HELD_OUT), "photos": entries,
           "skipped": sorted({f"{s} ({why})" for s, why in skipped})}
    manifest.write_text(json.dumps(doc, indent=1) + "\n")
    return entries


def load_manifest(path: Path = MANIFEST) -> dict:
    return json.loads(path.read_text())


def in_split(entry: dict, split: str) -> bool:
    """Whether `entry` is in `split`: "train"/"val" are the first round's photos (what every
    committed model, threshold and fade ramp was chosen and measured on, so their commands
    keep drawing the same photos), "train2"/"val2" the photos added in round 2, "val3" round 3's
    and "val4" round 4's (all held out: rounds 3 and 4 have no train share)."""
    name = split.rstrip("0123456789")
    return entry["split"] == name and entry.get("since", 1) == int(split[len(name):] or 1)


def photos(split: str, corpus: Path = DEFAULT_OUT, manifest: Path = MANIFEST) -> list[tuple[dict, Path]]:
    return [(e, corpus / e["file"]) for e in load_manifest(manifest)["photos"] if in_split(e, split)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Build the public photo corpus")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT)
    b.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "photoforge-corpus-src")
    b.add_argument("--manifest", type=Path, default=MANIFEST)
    args = ap.parse_args(argv)
    entries = build(args.out, args.cache, args.manifest)
    counts: dict[tuple[str, str], int] = {}
    for e in entries:
        counts[(e["subject"], e["split"])] = counts.get((e["subject"], e["split"]), 0) + 1
    print(f"{len(entries)} photos in {args.out}")
    for subj in sorted({s for s, _ in counts}):
        print(f"  {subj:<10} train {counts.get((subj, 'train'), 0):3d}  val {counts.get((subj, 'val'), 0):3d}")


if __name__ == "__main__":
    main()
