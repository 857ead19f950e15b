"""What a material file really is: its whole structure parsed by a real parser, not its first bytes.

A file that begins like a PDF and goes on as an executable or a web page, a PNG with a payload
after its end, a ZIP named ``.ofd`` that carries a program: each is refused with words a clerk
understands (``InvalidInput`` naming the field ``file``). The declared kind (the name's extension,
and the part's content type when the client sent a specific one) must agree with what was found.

Choices: encrypted PDFs are refused (nobody at the window could open them, and their content
cannot be checked); PDFs carrying JavaScript, launch or submit actions, embedded files, rich media
or XFA forms are refused (a material is a document to read, never something that runs).
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath

from node.domain.errors import InvalidInput

KINDS = ("pdf", "jpg", "png", "ofd")
EXTENSIONS = {".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".ofd": "ofd"}
CONTENT_TYPES = {"application/pdf": "pdf", "application/x-pdf": "pdf", "image/jpeg": "jpg", "image/jpg": "jpg",
                 "image/pjpeg": "jpg", "image/png": "png", "image/x-png": "png", "application/ofd": "ofd"}
GENERIC_CONTENT_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/zip",
                         "application/x-zip-compressed"}
_NAMES = {"pdf": "a PDF document", "jpg": "a JPEG image", "png": "a PNG image", "ofd": "an OFD document"}

MAX_IMAGE_PIXELS = 60_000_000
"""A larger image is a decompression bomb rather than a scan (a 600 dpi A3 page is ~70 MP at most in colour
but scans of materials are far smaller)."""
OFD_MAX_UNPACKED = 200 * 1024 * 1024
OFD_MAX_ENTRIES = 10_000
OFD_MAX_XML = 16 * 1024 * 1024
OFD_MAX_RATIO = 100
"""An entry that unpacks to more than a mebibyte may be at most this many times its packed size."""
OFD_ENTRY_TYPES = frozenset({".xml", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".jb2",
                             ".ttf", ".otf", ".ttc", ".dat", ".esl", ".sig"})
"""What an OFD package (GB/T 33190) holds: XML descriptions, images, fonts and signature data."""
PDF_FORBIDDEN = frozenset({"/JavaScript", "/JS", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/RichMedia",
                           "/SubmitForm", "/ImportData", "/XFA", "/GoToE"})
_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa", b"\xcf\xfa\xed\xfe", b"PK\x03\x04")
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|script|body|iframe|svg|object|embed|meta)\b", re.IGNORECASE)


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, field="file")


def detect(data: bytes) -> str | None:
    """The kind the first bytes claim (only a claim: ``check_file`` parses the whole file)."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"PK\x03\x04"):
        return "ofd"
    return None


def declared_kind(filename: str, content_type: str | None = None) -> str | None:
    """The kind the name (and a specific content type) declare; None when neither declares one.
    A name ending in anything but the four accepted extensions is refused."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    by_name = EXTENSIONS.get(suffix)
    if suffix and by_name is None:
        raise _bad(f"files named '*{suffix[:16]}' are not accepted: upload a PDF, JPG, PNG or OFD file")
    mime = (content_type or "").split(";")[0].strip().lower()
    by_type = CONTENT_TYPES.get(mime)
    if mime not in GENERIC_CONTENT_TYPES and by_type is None:
        raise _bad(f"the file was sent as '{mime[:60]}': upload a PDF, JPG, PNG or OFD file")
    if by_name and by_type and by_name != by_type:
        raise _bad(f"the file is named *{suffix} but was sent as {mime}: the two must agree")
    return by_name or by_type


def check_file(data: bytes, filename: str, content_type: str | None = None) -> str:
    """The file's kind once its whole structure has been parsed; raises ``InvalidInput`` (field
    ``file``) saying what is wrong."""
    declared = declared_kind(filename, content_type)
    found = detect(data)
    if found is None:
        raise _bad("only PDF, JPG, PNG or OFD files are accepted (checked by content, not by name)")
    if declared is not None and declared != found:
        raise _bad(f"the file is named as {_NAMES[declared]} but its content is {_NAMES[found]}: "
                   "rename it or upload the right file")
    {"pdf": check_pdf, "png": check_png, "jpg": check_jpeg, "ofd": check_ofd}[found](data)
    return found


# ---------------------------------------------------------------------------------------------- PDF


_OBJ = re.compile(rb"(\d+)[ \t\r\n\f\x00]+(\d+)[ \t\r\n\f\x00]+obj(?![A-Za-z])")
_STARTXREF = re.compile(rb"startxref[ \t\r\n\f\x00]+\d+")
_XREF_SUB = re.compile(rb"[ \t\r\n\f\x00]*(\d+)[ \t]+(\d+)[ \t]*\r?\n?")
_XREF_ENTRY = re.compile(rb"\d{10} \d{5} [nf](?: \r| \n|\r\n)")
_WS = b" \t\r\n\f\x00"
MAX_PDF_COMMENT = 256


def check_pdf(data: bytes) -> None:
    """Parsed strictly by pypdf, every object loaded; the file walked from its header to its last
    ``%%EOF`` with every byte accounted for (objects, cross-reference tables, trailers, short
    comments), so no other file can hide between or after the PDF's parts."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted:
            raise _bad("the PDF is password-protected: remove the password and upload it again")
        if len(reader.pages) < 1:
            raise _bad("the PDF has no pages")
        objects = [reader.get_object(i) for i in _object_numbers(reader)]
        _walk_pdf(data, reader)
    except InvalidInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError,
            RecursionError, OSError, struct.error, ZeroDivisionError) as e:
        raise _bad(f"the PDF cannot be read: it is damaged or not a PDF ({type(e).__name__})") from e
    for obj in objects:
        found = _names(obj) & PDF_FORBIDDEN
        if found:
            raise _bad(f"the PDF contains active content ({', '.join(sorted(found))}): materials may not carry "
                       "scripts, actions or embedded files; print it to a plain PDF and upload that")


def _object_numbers(reader: object) -> list[int]:
    xref: dict[int, dict[int, int]] = getattr(reader, "xref", {})
    in_streams: dict[int, object] = getattr(reader, "xref_objStm", {})
    return sorted({n for by_gen in xref.values() for n in by_gen} | set(in_streams))


def _names(obj: object, depth: int = 0) -> set[str]:
    """Every name (keys and values) in a direct object, not following references (each
    referenced object is itself among the objects checked)."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    if depth > 64:
        raise _bad("the PDF nests its objects too deeply")
    if isinstance(obj, NameObject):
        return {str(obj)}
    out: set[str] = set()
    if isinstance(obj, DictionaryObject):
        for k, v in obj.items():
            out.add(str(k))
            out |= _names(v, depth + 1)
    elif isinstance(obj, ArrayObject):
        for v in obj:
            out |= _names(v, depth + 1)
    return out


def _walk_pdf(data: bytes, reader: object) -> None:
    from pypdf.generic import read_object

    n = len(data)
    pos = data.find(b"\n", 0, 32)
    cr = data.find(b"\r", 0, 32)
    pos = min(p for p in (pos, cr, 32) if p >= 0)
    if not re.fullmatch(rb"%PDF-\d\.\d[ \t]*", data[:pos]):
        raise _bad("the PDF's header is not a PDF header")
    stream = io.BytesIO(data)
    eof_at = -1
    while True:
        pos = _skip_ws(data, pos)
        if pos >= n:
            break
        if data[pos] == 0x25:  # '%': a comment, to the end of its line
            end = min((p for p in (data.find(b"\n", pos), data.find(b"\r", pos)) if p >= 0), default=n)
            comment = data[pos:end]
            if comment.startswith(b"%%EOF"):
                eof_at = end
            elif len(comment) > MAX_PDF_COMMENT or _MARKUP.search(comment):
                raise _not_pdf(pos)
            pos = end
            continue
        m = _OBJ.match(data, pos)
        if m:
            stream.seek(_skip_ws(data, m.end()))
            read_object(stream, reader)  # type: ignore[arg-type]
            pos = _expect(data, stream.tell(), b"endobj")
            continue
        if data.startswith(b"xref", pos):
            pos = _xref_table(data, pos + 4)
            continue
        if data.startswith(b"trailer", pos):
            stream.seek(_skip_ws(data, pos + 7))
            read_object(stream, reader)  # type: ignore[arg-type]
            pos = stream.tell()
            continue
        m = _STARTXREF.match(data, pos)
        if m:
            pos = m.end()
            continue
        raise _not_pdf(pos)
    if eof_at < 0 or data[eof_at:].strip(_WS):
        raise _bad("the PDF does not end where a PDF ends (%%EOF): something follows it or it is cut short")


def _not_pdf(pos: int) -> InvalidInput:
    return _bad(f"the file contains data that is not part of a PDF (at byte {pos}): it may hide another "
                "file; save the document again as a plain PDF")


def _skip_ws(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos] in _WS:
        pos += 1
    return pos


def _expect(data: bytes, pos: int, word: bytes) -> int:
    pos = _skip_ws(data, pos)
    if not data.startswith(word, pos):
        raise _not_pdf(pos)
    return pos + len(word)


def _xref_table(data: bytes, pos: int) -> int:
    while True:
        m = _XREF_SUB.match(data, pos)
        if not m or data.startswith(b"trailer", m.start(1)):
            return pos
        pos = m.end()
        for _ in range(int(m.group(2))):
            e = _XREF_ENTRY.match(data, pos)
            if not e:
                raise _not_pdf(pos)
            pos = e.end()


# ------------------------------------------------------------------------------------------ images


def _decode_image(data: bytes, fmt: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise _bad(f"the image is {w}×{h} pixels: scan it at a lower resolution")
            im.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            im.load()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, IndexError,
            Image.DecompressionBombError) as e:
        raise _bad(f"the image cannot be decoded: it is damaged or not a {fmt} image ({type(e).__name__})") from e


def check_png(data: bytes) -> None:
    """Decoded by Pillow (``verify`` checks every chunk's CRC, ``load`` the pixels), and nothing after IEND."""
    _decode_image(data, "PNG")
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        pos += 12 + length
        if ctype == b"IEND":
            break
    else:
        raise _bad("the PNG image has no end (IEND): it is cut short or damaged")
    if pos != len(data):
        raise _bad(f"data follows the end of the PNG image ({len(data) - pos} bytes): it may hide another file")


def check_jpeg(data: bytes) -> None:
    """Decoded by Pillow, and its markers walked to the end of the image: nothing may follow it."""
    _decode_image(data, "JPEG")
    end = _jpeg_end(data)
    if data[end:].strip(b"\x00"):
        raise _bad(f"data follows the end of the JPEG image ({len(data) - end} bytes): it may hide another file")


def _jpeg_end(data: bytes) -> int:
    """The offset just past the EOI marker of the image starting at 0 (segments skipped by length,
    entropy-coded data scanned for the next marker)."""
    n, pos = len(data), 2
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            raise _bad("the JPEG image is damaged (a marker was expected)")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            while pos + 1 < n:
                if data[pos] == 0xFF and data[pos + 1] != 0x00 and not 0xD0 <= data[pos + 1] <= 0xD7:
                    break
                pos += 1
    if pos + 2 <= n and data[pos:pos + 2] == b"\xff\xd9":
        return pos + 2
    raise _bad("the JPEG image has no end (EOI): it is cut short or damaged")


# --------------------------------------------------------------------------------------------- OFD


def check_ofd(data: bytes) -> None:
    """An OFD document is a ZIP package with ``OFD.xml`` at its root holding only XML, images,
    fonts and signature data: no programs or scripts (by name or by content), no names that
    climb out of the package, no encrypted entries, and no zip bomb (total and ratio capped,
    counted on the bytes actually unpacked, not on what the archive claims)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise _bad("the OFD file cannot be opened: it is damaged or not an OFD document") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > OFD_MAX_ENTRIES:
            raise _bad(f"the OFD package holds {len(infos)} files: too many for a document")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise _bad("the OFD package holds two files under the same name")
        for info in infos:
            _check_ofd_name(info.filename)
        if "OFD.xml" not in names:
            raise _bad("the file is not an OFD document: OFD.xml is missing at the root of the package")
        _check_zip_layout(data, zf)
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise _bad(f"the OFD package holds an encrypted file ({info.filename}): not accepted")
            xml = info.filename.lower().endswith(".xml")
            head, kept, size = b"", [], 0
            for chunk in _unpack(zf, info, OFD_MAX_UNPACKED - total):
                if len(head) < 16:
                    head += chunk[:16]
                size += len(chunk)
                if xml:
                    if size > OFD_MAX_XML:
                        raise _bad(f"{info.filename[:80]} in the OFD package is larger than an OFD description "
                                   f"can be ({OFD_MAX_XML // (1024 * 1024)} MiB)")
                    kept.append(chunk)
            total += size
            _check_ofd_entry(info.filename, head, b"".join(kept) if xml else b"")


def _check_ofd_name(name: str) -> None:
    p = PurePosixPath(name)
    if ("\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name)
            or ".." in p.parts):
        raise _bad(f"the OFD package holds a file whose name points outside the package ({name[:80]!r})")
    if name.endswith("/"):
        return
    if p.suffix.lower() not in OFD_ENTRY_TYPES:
        raise _bad(f"the OFD package holds a file of a type an OFD document never contains ({name[:80]}): "
                   "programs, scripts and web pages are not accepted")


def _unpack(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> Iterator[bytes]:
    got = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(1 << 16):
                got += len(chunk)
                if got > budget:
                    raise _bad(f"the OFD package unpacks to more than {OFD_MAX_UNPACKED // (1024 * 1024)} MiB: "
                               "not accepted (a zip bomb?)")
                if got > 1024 * 1024 and got > OFD_MAX_RATIO * max(info.compress_size, 1):
                    raise _bad(f"a file in the OFD package ({info.filename[:80]}) unpacks to more than "
                               f"{OFD_MAX_RATIO} times its packed size: not accepted (a zip bomb?)")
                yield chunk
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as e:
        raise _bad(f"a file in the OFD package ({info.filename[:80]}) cannot be unpacked: the package is damaged") \
            from e


def _check_zip_layout(data: bytes, zf: zipfile.ZipFile) -> None:
    """Every byte of the archive belongs to an entry, the central directory or its end record:
    nothing hides before, between or after the entries (the archive readers never look there,
    other programs might)."""
    infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
    pos = 0
    for info in infos:
        if info.header_offset != pos or data[pos:pos + 4] != b"PK\x03\x04":
            raise _bad("the OFD package holds data that belongs to none of its files: it may hide another file")
        name_len, extra_len = struct.unpack("<HH", data[pos + 26:pos + 30])
        pos += 30 + name_len + extra_len + info.compress_size
        if info.flag_bits & 0x08:  # a data descriptor follows the data (its signature is optional)
            pos += 4 if data[pos:pos + 4] == b"PK\x07\x08" else 0
            pos += 20 if info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF else 12
    start_dir = getattr(zf, "start_dir", pos)
    eocd = data.rfind(b"PK\x05\x06")
    if pos != start_dir or eocd < 0 or eocd + 22 + len(zf.comment) != len(data):
        raise _bad("the OFD package holds data that belongs to none of its files: it may hide another file")


def _check_ofd_entry(name: str, head: bytes, content: bytes) -> None:
    if head.startswith(_EXECUTABLE_MAGIC):
        raise _bad(f"the OFD package holds a program or an archive under the name {name[:80]}: not accepted")
    if name.lower().endswith(".xml"):
        head = content[:4096].lower()
        if b"<!doctype" in head or b"<!entity" in content.lower() or _MARKUP.search(content):
            raise _bad(f"{name[:80]} in the OFD package holds a document type, entities or web-page markup: "
                       "not accepted")
        if name == "OFD.xml":
            _check_ofd_root(content)


def _check_ofd_root(content: bytes) -> None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(content)
    except ET.ParseError as e:
        raise _bad("OFD.xml in the OFD package is not well-formed XML: the document is damaged") from e
    if root.tag.rsplit("}", 1)[-1] != "OFD":
        raise _bad("OFD.xml in the OFD package does not describe an OFD document")
