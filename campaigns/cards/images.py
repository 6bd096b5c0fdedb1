"""The 1200×630 share image of a page, an event, a team or a cause, drawn with
Pillow and kept on disk under its version, so a crawler storm on a shared link
draws it once."""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, gettext, ngettext
from PIL import Image, ImageDraw, ImageFont, ImageOps

from campaigns.cards.services import IMAGE_HEIGHT, IMAGE_WIDTH, Drawing
from campaigns.money import format_money

FONT_FOLDER = Path("/usr/share/fonts/truetype/dejavu")
BRAND = (11, 92, 173)
BRAND_DARK = (8, 63, 120)
WHITE = (255, 255, 255)
SOFT = (214, 228, 243)
MARGIN = 64
PHOTO_WIDTH = 440


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    # DejaVu covers the accents of every language the site speaks; Pillow's
    # own font is the fallback where the package is not installed.
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONT_FOLDER / name), size)
    except OSError:
        return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width`` pixels, the last cut with …"""
    words, out, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            out.append(line)
        line = word
        while draw.textlength(line, font=font) > width and len(line) > 1:
            line = line[:-1]
    if line:
        out.append(line)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        out[-1] = last.rstrip() + "…"
    return out


def _photo(name: str | None) -> Image.Image | None:
    if not name:
        return None
    path = Path(current_app.config["UPLOAD_FOLDER"]) / Path(name).name
    try:
        with Image.open(path) as photo:
            return ImageOps.fit(photo.convert("RGB"), (PHOTO_WIDTH, IMAGE_HEIGHT))
    except (OSError, ValueError):
        return None  # a missing or damaged photo leaves the card without it


def draw(drawing: Drawing) -> bytes:
    """The PNG of one card, in the drawing's language."""
    image = Image.new("RGB", (IMAGE_WIDTH, IMAGE_HEIGHT), BRAND)
    canvas = ImageDraw.Draw(image)
    photo = _photo(drawing.photo)
    right = IMAGE_WIDTH - MARGIN
    if photo is not None:
        image.paste(photo, (IMAGE_WIDTH - PHOTO_WIDTH, 0))
        right = IMAGE_WIDTH - PHOTO_WIDTH - MARGIN
    width = right - MARGIN
    with force_locale(drawing.locale):
        raised = format_money(drawing.raised_minor or 0, drawing.currency, drawing.locale)
        goal = format_money(drawing.goal_minor, drawing.currency, drawing.locale)
        label = {
            "event": gettext("Local event"),
            "team": gettext("Team"),
        }.get(drawing.label, "")
        call = gettext("Give on Relais")
        if drawing.raised_minor is None:  # a total that would tell a hidden gift
            figures = gettext("Our goal: %(goal)s", goal=goal) if drawing.goal_minor else call
        elif drawing.goal_minor:
            figures = gettext("%(raised)s raised of %(goal)s", raised=raised, goal=goal)
        else:
            figures = gettext("%(raised)s raised", raised=raised)
        donors = ngettext("%(num)s donor", "%(num)s donors", drawing.donor_count)

    y = MARGIN
    small = _font(30)
    heading = " · ".join(part for part in (drawing.organisation, label) if part)
    for line in _wrap(canvas, heading, small, width, 1):
        canvas.text((MARGIN, y), line, font=small, fill=SOFT)
        y += 44
    y += 16
    title_font = _font(64 if len(drawing.title) < 40 else 54, bold=True)
    for line in _wrap(canvas, drawing.title, title_font, width, 3):
        canvas.text((MARGIN, y), line, font=title_font, fill=WHITE)
        y += title_font.size + 14

    bottom = IMAGE_HEIGHT - MARGIN
    canvas.text((MARGIN, bottom - 34), call, font=_font(30, bold=True), fill=WHITE)
    bar_top = bottom - 34 - 40 - 28
    canvas.rounded_rectangle(
        (MARGIN, bar_top, right, bar_top + 28), radius=14, fill=BRAND_DARK, outline=SOFT, width=2
    )
    if drawing.goal_minor and drawing.raised_minor is not None:
        share = max(0.0, min(1.0, drawing.raised_minor / drawing.goal_minor))
        if share > 0:
            filled = MARGIN + max(28, int((right - MARGIN) * share))
            canvas.rounded_rectangle((MARGIN, bar_top, filled, bar_top + 28), radius=14, fill=WHITE)
    figure_font = _font(40, bold=True)
    line = _wrap(canvas, figures, figure_font, width, 1)[0]
    canvas.text((MARGIN, bar_top - 64 - 40), line, font=figure_font, fill=WHITE)
    canvas.text((MARGIN, bar_top - 56), donors, font=_font(30), fill=SOFT)

    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cached_png(drawing: Drawing) -> bytes:
    """The card's PNG, drawn once per version; older versions are removed."""
    stem = f"{drawing.kind}-{drawing.slug}-{drawing.locale}"
    path = _folder() / f"{stem}-{drawing.version}.png"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    png = draw(drawing)
    # Written aside then renamed: a reader on another thread or node never
    # sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as file:
        file.write(png)
    os.replace(temporary, path)
    for old in path.parent.glob(f"{stem}-*.png"):
        if old != path and old.name.rsplit("-", 1)[0] == stem:
            old.unlink(missing_ok=True)
    return png
