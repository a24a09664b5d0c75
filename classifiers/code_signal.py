"""How much of a page's text is code: the second signal of web recall's code label (docs/recall.md,
"The code gate").

The fastText model reads a page's words; a page about people, an organisation or a registry can share
a programmer's vocabulary (software, data, Python, API, release) and be scored code without showing any
code. Documentation of programming shows its code: in examples, and in the names it writes in running
text (`fs.unlink()`, `--tool=lackey`, `bdist_wheel`, `xsltApplyStylesheet`). `code_token_share` is the
share of a page's whitespace-separated tokens (of its first MAX_TOKENS) that are written as code:

- an option: `-m`, `--user`, `--tool=lackey`;
- an identifier with an underscore inside (`bdist_wheel`, `__init__`) or in camel case with a lower-case
  start (`readFile`, `xsltApplyStylesheet`; not `ccTLDs` or `iPhone`s of prose: a capital followed by
  a lower-case letter after a lower-case run);
- a call or definition: a name directly followed by `(` (`print(`, `unlink('/tmp/hello',`, `integrate(x^2,`);
- an operator or bracket token of programming languages standing alone or ending a statement: `=`, `==`,
  `!=`, `<=`, `>=`, `+=`, `->`, `=>`, `::`, `:=`, `<-`, `&&`, `{`, `}`, `()`, `[]`, `);`, `};`, `x;` after a
  closing bracket or quote.

- Lisp, whose code is words and parentheses (`(defun foo-bar (x) ...)`): a comment `;;`, a form opened
  by a defining or binding operator (`(defun`, `(let*`, `(lambda`, `(define-record-type`, `(make-array`,
  `(with-open-file`; not `(if` or `(list`, which prose writes too), lambda-list keywords (`&rest`,
  `&key`), `#'car`, `'(a b)`, `#t`, `*print-base*`, a form's close `x))`, and names only Lisp writes
  (`string->symbol`, `set-car!`, `string-null?`).

Prose punctuation is not code: a table's `|` and `-` separators (the extractor writes tables that way),
a lone `(` or `&`, a word followed by `;`. Only whitespace separates tokens, so re-wrapping or
re-indenting a page changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

MAX_TOKENS = 20_000  # the head of a long page decides, as the model reads only its head

CAMEL_CASE = r"[a-z][a-z0-9]*[A-Z][a-z]\w*[,.;:)]?"
CODE_TOKEN = re.compile(r"""^(?:
    -{1,2}[A-Za-z][\w-]*(?:=\S*)?[,.;:)]?           # an option
  | \S*(?:[A-Za-z0-9]_[A-Za-z0-9]|__[A-Za-z0-9])\S*  # snake_case, __dunder__
  | """ + CAMEL_CASE + r"""                        # camelCase
  | [\[\("'`]?[A-Za-z_][\w.:$]*\(\S*                # a call or definition: name(
  | (?:[=<>!+\-*/%^|&]?=|->|=>|::|:=|<-|&&|\|\|)   # an operator standing alone
  | [{}\[\]()]*[{}][{}\[\]();,]*                    # braces
  | \(\)|\[\]|\S*[\)\]'"`];                         # () [] and a statement end after a bracket or quote
  | ;{2,}                                           # Lisp: a comment (;; ;;;)
  | '?\(+(?:def(?:un|macro|var|parameter|constant|class|method|generic|struct|package|type|setf|ine(?:-[a-z-]+)?)
        |let\*?|lambda|setf|setq|cond|progn|quote|funcall|labels|flet|multiple-value-[a-z-]+|destructuring-bind
        |with-[a-z-]+|make-[a-z-]+)(?![\w-])\S*                             # Lisp: a form (defun ...
  | &(?:rest|key|optional|body|aux|allow-other-keys|environment|whole)[,.;)]*  # Lisp: lambda-list keywords
  | \#'[^\s()]+|'\(\S*|\#[tf][),]*                    # Lisp: #'fn  '(a b)  #t #f
  | \*[a-z][a-z0-9]*(?:-[a-z0-9]+)+\*[,.;)]*         # Lisp: *special-variable*
  | \S*[^\s(]\){2,}[,.;]?                            # Lisp: a form's close: x))
  | [a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:->[a-z][a-z0-9-]*|-[a-z0-9]+[?!])[,.;)]*  # Lisp: string->symbol set-car! string-null?
)$""", re.VERBOSE)


# Most tokens of any page are plain words; of CODE_TOKEN's forms only camelCase can be one, so a plain word
# is matched against that form alone (the same answer, for ~0.6x the time of the whole pattern).
PLAIN_WORD = re.compile(r"[A-Za-z]+[,.;:!?]?")
PLAIN_CODE = re.compile(CAMEL_CASE)


def is_code_token(token: str) -> bool:
    """Whether one whitespace-separated token is written as code (module doc)."""
    if PLAIN_WORD.fullmatch(token):
        return PLAIN_CODE.fullmatch(token) is not None
    return CODE_TOKEN.match(token) is not None


def code_token_share(text: str) -> float:
    """Share of the first MAX_TOKENS whitespace-separated tokens of `text` written as code (0.0 for none)."""
    tokens = text.split(maxsplit=MAX_TOKENS)[:MAX_TOKENS]
    return sum(1 for t in tokens if is_code_token(t)) / len(tokens) if tokens else 0.0


def label_gate(labels: Sequence[str], probs: np.ndarray, code_tokens: np.ndarray, min_code_tokens: float = 0.0,
               min_code_probability: float = 0.0) -> np.ndarray | None:
    """[pages x labels] bools: which label each page may be recalled as (on top of the run's threshold).
    `code` needs a code token share of at least `min_code_tokens` and P(code) of at least
    `min_code_probability` (the two-threshold rule); every other label is open. None (no gate) when
    both are 0 or there is no code label."""
    if (min_code_tokens <= 0 and min_code_probability <= 0) or "code" not in labels:
        return None
    j = list(labels).index("code")
    out = np.ones((len(code_tokens), len(labels)), dtype=bool)
    out[:, j] = (np.asarray(code_tokens, dtype=np.float64) >= min_code_tokens) & (np.asarray(probs)[:, j] >= min_code_probability)
    return out
