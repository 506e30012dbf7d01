"""PDF pages rendered to pixels by PDFium (the engine of Chromium's viewer), for tests that
check what a reader would see, not only the text a PDF holds."""

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium

Image = npt.NDArray[np.uint8]


def render(data: bytes, dpi: float = 72.0) -> list[Image]:
    """Every page as an RGB array (height × width × 3)."""
    document = pdfium.PdfDocument(data)
    try:
        pages = []
        for page in document:
            bitmap = page.render(scale=dpi / 72.0, rev_byteorder=True)
            pages.append(np.array(bitmap.to_numpy()[:, :, :3]))
            page.close()
        return pages
    finally:
        document.close()


def pixels_of(image: Image, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    """How many pixels are ``rgb`` (± ``tolerance`` per channel)."""
    diff = np.abs(image.astype(np.int16) - np.array(rgb, np.int16))
    return int(np.count_nonzero(np.all(diff <= tolerance, axis=2)))


def inked(image: Image) -> float:
    """Share of the page that is not white."""
    return float(np.count_nonzero(np.any(image < 245, axis=2))) / (image.shape[0] * image.shape[1])
