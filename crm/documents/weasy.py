"""The WeasyPrint side of crm.documents.pdf, imported on a worker's first PDF (see pdf.py)."""

from __future__ import annotations

import io
import mimetypes
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote, urlsplit

import filetype
from weasyprint import CSS, HTML
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from crm.documents.pdf import LOGO_URL, QR_URL, STATIC_PREFIX, RenderTimeout

# What an approved document is archived as. WeasyPrint writes one variant at a time: PDF/A-3b (archival)
# is declared; the structure tags PDF/UA asks for are written too (pdf_tags), without claiming PDF/UA.
# The sRGB output intent PDF/A needs is given as our own profile: WeasyPrint's built-in "srgb" leaves its
# ICC file open (a ResourceWarning on every document).
ARCHIVAL_VARIANT = "pdf/a-3b"
SRGB = "--srgb"
SRGB_ICC = (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()


def _srgb() -> dict[str, ColorProfile]:
    """A fresh profile per document: WeasyPrint writes the document's PDF reference into it."""
    return {SRGB: ColorProfile(io.BytesIO(SRGB_ICC), "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))}


class LocalOnlyFetcher(URLFetcher):
    """Serves static/ files and the letterhead logo; refuses every other URL."""

    def __init__(self, static_folder: Path, logo: bytes | None = None, qr_png: bytes | None = None):
        super().__init__(allow_redirects=False)
        self.static_folder = static_folder.resolve()
        self.logo = logo
        self.qr_png = qr_png
        self.refused: list[str] = []

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        if url == LOGO_URL and self.logo:
            mime = filetype.guess_mime(self.logo) or "image/png"
            return URLFetcherResponse(url, body=self.logo, headers={"Content-Type": mime})
        if url == QR_URL and self.qr_png:
            return URLFetcherResponse(url, body=self.qr_png, headers={"Content-Type": "image/png"})
        parts = urlsplit(url)
        if url.startswith(STATIC_PREFIX) and not parts.query and not parts.fragment:
            relative = unquote(parts.path.removeprefix("/static/"))
            target = (self.static_folder / relative).resolve()
            if ".." not in Path(relative).parts and target.is_relative_to(self.static_folder) and target.is_file():
                return self._file(target, url)
        self.refused.append(url[:200])
        raise ValueError(f"refused to fetch {url[:200]}")

    @staticmethod
    def _file(path: Path, url: str) -> URLFetcherResponse:
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime})


class PdfRenderer:
    """One per process: the font configuration and the print stylesheet are built once and reused."""

    def __init__(self, static_folder: Path, stylesheet: str, *, timeout: float = 20.0):
        self.static_folder = Path(static_folder)
        self.fonts = FontConfiguration()
        self.fetcher = LocalOnlyFetcher(self.static_folder)
        self.css = CSS(string=stylesheet, base_url=STATIC_PREFIX, url_fetcher=self.fetcher, font_config=self.fonts)
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pdf")

    def write(self, html: str, logo: bytes | None, qr_png: bytes | None, archival: bool) -> bytes:
        """The PDF, in this thread, without a time limit (the render server's children are killed past it)."""
        fetcher = LocalOnlyFetcher(self.static_folder, logo, qr_png)
        document = HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=fetcher)
        if not archival:
            return document.write_pdf(stylesheets=[self.css], font_config=self.fonts, pdf_tags=True)
        return document.write_pdf(
            stylesheets=[self.css],
            font_config=self.fonts,
            pdf_tags=True,
            pdf_variant=ARCHIVAL_VARIANT,
            color_profiles=_srgb(),
            output_intent=SRGB,
        )

    def render(
        self, html: str, logo: bytes | None = None, qr_png: bytes | None = None, *, archival: bool = False
    ) -> bytes:
        """The PDF of ``html`` (already escaped by Jinja), or RenderTimeout past the limit.

        Every document is tagged (headings, lists, tables reach screen readers); an ``archival`` one is also
        PDF/A-3b: XMP metadata with its creation date, fonts embedded, an sRGB output intent.
        """
        future = self._pool.submit(self.write, html, logo, qr_png, archival)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            future.cancel()  # a render already running goes on in its thread: the render server kills its own
            raise RenderTimeout from None


def bare_render(html: str, stylesheet: str) -> bytes:
    """The same document rendered the naive way (fresh fonts and stylesheet), for the benchmark."""
    fetcher = LocalOnlyFetcher(Path(__file__).resolve().parents[2] / "static")
    fonts = FontConfiguration()
    css = CSS(string=stylesheet, base_url=STATIC_PREFIX, url_fetcher=fetcher, font_config=fonts)
    return HTML(string=html, base_url=STATIC_PREFIX, url_fetcher=fetcher).write_pdf(
        stylesheets=[css], font_config=fonts
    )
