"""Writes corpus/samples/web_sample.warc.gz, the small web input of the default run.

Every page below was written for this project. The set exercises the web path on purpose: code and
math pages, plain prose, a near-duplicate and an exact duplicate page, a page too short for the
quality rules, a JSON response, an HTTP 404 and a request record. Run from the repo root:
    python -m corpus.samples.make_web_sample
"""

from __future__ import annotations

import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HOST = "https://example.org"


def page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif}</style><script>console.log('x')</script></head>"
        f"<body><nav><a href='/'>Home</a> | <a href='/blog'>Blog</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Sample site for the coder-corpus test input.</footer></body></html>"
    )


def paragraphs(*texts: str) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


BINARY_SEARCH = page(
    "Binary search without off-by-one errors",
    paragraphs(
        "Binary search finds a value in a sorted list by halving the interval that can still contain it. "
        "Most bugs come from the boundaries, so it helps to keep one invariant and write the loop around it.",
        "We keep the half-open interval from lo to hi, where every index below lo holds a smaller value and every "
        "index at or above hi holds a value that is not smaller. The loop stops when the interval is empty, and lo "
        "is then the first position where the target could be inserted.",
    )
    + "<pre><code>def lower_bound(items, target):\n    lo, hi = 0, len(items)\n    while lo &lt; hi:\n        mid = (lo + hi) // 2\n"
    "        if items[mid] &lt; target:\n            lo = mid + 1\n        else:\n            hi = mid\n    return lo\n</code></pre>"
    + paragraphs(
        "Because the midpoint is always strictly below hi, the interval shrinks on every pass and the loop always ends. "
        "The same shape works for any monotone predicate, which is why it is worth learning once and reusing everywhere."
    ),
)

RUST_OWNERSHIP = page(
    "Borrowing in Rust, explained with a text buffer",
    paragraphs(
        "Rust lets many parts of a program read the same value, or exactly one part change it, but never both at once. "
        "The compiler checks this rule when it builds the program, so there is no cost while it runs.",
        "Consider a small editor buffer. Reading functions take a shared reference and can run side by side, while the "
        "function that inserts text takes a mutable reference for as long as it needs it and then gives it back.",
    )
    + "<pre><code>struct Buffer { text: String }\n\nimpl Buffer {\n    fn len(&amp;self) -&gt; usize { self.text.len() }\n"
    "    fn insert(&amp;mut self, at: usize, s: &amp;str) { self.text.insert_str(at, s); }\n}\n</code></pre>"
    + paragraphs(
        "When the borrow checker complains, the fix is usually to shorten how long a reference lives, for example by "
        "copying a length into a local variable before calling the method that changes the buffer."
    ),
)

QUADRATIC = page(
    "Why the quadratic formula works",
    paragraphs(
        "Every quadratic equation a x squared plus b x plus c equals zero, with a not zero, can be solved by completing the square. "
        "Divide by a, move the constant to the right side, and add the square of half the linear coefficient to both sides.",
        "The left side is then a perfect square, so taking square roots gives x plus b over 2a equals plus or minus the square root "
        "of b squared minus 4ac, all over 2a. The number b squared minus 4ac is called the discriminant.",
        "When the discriminant is positive there are two real roots, when it is zero there is one repeated root, and when it is "
        "negative the two roots are complex conjugates. For example x squared minus 5x plus 6 has discriminant 1 and roots 2 and 3.",
    ),
)

PRIMES = page(
    "Counting primes with a sieve",
    paragraphs(
        "The sieve of Eratosthenes lists every prime up to a bound n. Start with all numbers from 2 to n marked as candidates. "
        "Take the smallest candidate, which must be prime, and cross out all of its multiples starting from its square.",
        "Starting from the square is safe because any smaller multiple has a smaller prime factor and was already crossed out. "
        "The work adds up to about n times the sum of one over p for primes p below n, which grows like n log log n.",
        "For n equal to one hundred the sieve leaves twenty five primes, and for one million it leaves 78498 primes, "
        "which matches the estimate n over the natural logarithm of n to within about eight percent.",
    ),
)

GARDEN = page(
    "Planting a small vegetable garden in spring",
    paragraphs(
        "A first vegetable garden does not need to be large. Two raised beds in a sunny corner are enough to grow lettuce, "
        "beans, tomatoes and a few herbs, and they are easy to water and weed after work.",
        "Prepare the soil a few weeks before planting by mixing in compost. Sow lettuce and peas as soon as the ground can be "
        "worked, and wait until the nights stay warm before you set out tomato plants.",
        "Water deeply once or twice a week rather than a little every day, so that the roots grow down into the soil. "
        "Keep notes of what you planted and when, because next year you will want to remember what worked.",
    ),
)

GARDEN_NEAR = GARDEN.replace("after work", "in the evening").replace("Keep notes", "Keep short notes")

SHORT = page("Coming soon", paragraphs("This page is under construction."))

PAGES = [
    ("/code/binary-search", BINARY_SEARCH),
    ("/code/rust-borrowing", RUST_OWNERSHIP),
    ("/math/quadratic-formula", QUADRATIC),
    ("/math/prime-sieve", PRIMES),
    ("/blog/spring-garden", GARDEN),
    ("/blog/spring-garden-2", GARDEN_NEAR),
    ("/mirror/code/binary-search", BINARY_SEARCH),
    ("/coming-soon", SHORT),
]


def write(path: Path) -> None:
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "coder-corpus sample writer"}))
        for url_path, html in PAGES:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(HOST + url_path, "response", payload=io.BytesIO(html.encode()), http_headers=headers))
        json_headers = StatusAndHeaders("200 OK", [("Content-Type", "application/json")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(HOST + "/api/status", "response", payload=io.BytesIO(b'{"ok": true}'), http_headers=json_headers))
        missing = StatusAndHeaders("404 Not Found", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(HOST + "/missing", "response", payload=io.BytesIO(b"<html>gone</html>"), http_headers=missing))
        request = StatusAndHeaders("GET /code/binary-search HTTP/1.1", [("Host", "example.org")], is_http_request=True)
        writer.write_record(writer.create_warc_record(HOST + "/code/binary-search", "request", payload=io.BytesIO(b""), http_headers=request))


if __name__ == "__main__":
    write(Path(__file__).with_name("web_sample.warc.gz"))
