"""Curated facts the generator adds on top of Linguist and Pygments.

Everything here is a decision or a fact that neither table carries (comment syntax, tree-sitter grammar
names, the owner of a shared extension, content heuristics). `build_registry.py` copies it into the data
file with the source `curated`, so a reviewer sees each decision next to the facts it overrides.
"""

from __future__ import annotations

# The 8 names of the 338 that neither Linguist nor Pygments spells the same way (recipe §4b).
SPELLING_MAP: dict[str, tuple[str, str]] = {
    "Apache Configuration": ("pygments", "ApacheConf"),
    "Fortran Fixed Form": ("pygments", "FortranFixed"),
    "Graphviz DOT": ("linguist", "Graphviz (DOT)"),
    "HTML ERB": ("linguist", "HTML+ERB"),
    "HTML PHP": ("linguist", "HTML+PHP"),
    "JavaScript MozPreproc": ("pygments", "Javascript+mozpreproc"),
    "XML Lasso": ("linguist", "Lasso"),  # Lasso itself is not among the 338; its files go to the one Lasso variant
    "Mizar": ("curated", "Mizar"),  # in neither table
}

# Facts for names no table covers at all (source: the language's own documentation).
EXTRA_FACTS: dict[str, dict] = {
    "Mizar": {"type": "programming", "extensions": [".miz", ".voc"]},
    # Pygments' Apache lexer has only file names; .htaccess-style snippets are often *.conf too (ambiguous).
    "Apache Configuration": {"type": "data", "extensions": [".htaccess", ".apacheconf"], "filenames": ["httpd.conf"]},
    "Fortran Fixed Form": {"extensions": [".f", ".for", ".f77", ".fpp"]},
    # Visual FoxPro generated menu / query / screen programs are FoxPro source; .prg is shared with xBase.
    "FoxPro": {"extensions": [".prg", ".mpr", ".qpr", ".spr"]},
    "Octave": {"extensions": [".m"], "interpreters": ["octave"]},
    "Perl 6": {"interpreters": ["perl6"]},
    # Linguist's "TSX" (TypeScript with JSX) is grouped under TypeScript; its .tsx is shared with XML (Tiled).
    "TypeScript": {"extensions": [".tsx"]},
}

# Types for names that only Pygments knows (Pygments has no type; default is programming).
PYGMENTS_TYPES: dict[str, str] = {
    "Apache Configuration": "data", "Debian Control File": "data", "Lighttpd Configuration File": "data",
    "PkgConfig": "data", "Terminfo": "data", "Objdump": "data", "RConsole": "data", "BNF": "markup",
    "PEG": "markup", "Rd": "markup", "USD": "data", "Kconfig": "data", "Inform 6 Template": "prose",
    "G-Code": "data", "XML Lasso": "markup",
}

# Overlapping names: which files each gets. Rule: the older / legacy name keeps the legacy extensions,
# the current Linguist name keeps the current ones, so every name of the 338 keeps at least one rule
# and no file is claimed by both. Values: name -> (extensions, filenames) replacing what tables say.
OVERLAP_SPLIT: dict[str, tuple[list[str], list[str]]] = {
    "Bro": ([".bro"], []),
    "Zeek": ([".zeek"], []),
    "Docker": ([".docker", ".dockerfile"], []),
    "Dockerfile": ([], ["Dockerfile", "Containerfile", "dockerfile"]),
    "Jade": ([".jade"], []),
    "Pug": ([".pug"], []),
    # Raku is not among the 338: Perl 6 takes all its extensions except the Perl-shared .pl/.pm/.t.
    "Perl 6": ([".p6", ".pl6", ".pm6", ".6pl", ".6pm", ".p6l", ".p6m", ".nqp", ".raku", ".rakumod",
                ".rakutest", ".rakudoc"], []),
    "RHTML": ([".rhtml"], []),
    "HTML ERB": ([".erb", ".erb.deface", ".html.erb"], []),
    "NASM": ([".nasm", ".nas"], []),
}

# Extensions whose owner is decided here (first = default when content gives no signal).
# Keys are extensions; values list candidates among the 338 in default order.
EXTENSION_ORDER: dict[str, list[str]] = {
    ".h": ["C", "C++", "Objective-C"],
    ".m": ["Objective-C", "MATLAB", "Octave", "Limbo", "MUF", "Mason"],
    ".pl": ["Perl", "Perl 6"],
    ".pm": ["Perl", "Perl 6"],
    ".t": ["Perl", "Perl 6", "Turing"],
    ".v": ["Verilog"],
    ".inc": ["PHP", "C++", "Pascal", "Assembly", "NASM", "PAWN", "SourcePawn", "POV-Ray", "BitBake", "SQL", "HTML"],
    ".cls": ["TeX", "OpenEdge ABL", "Visual Basic"],
    ".sql": ["SQL", "Transact-SQL"],
    ".asm": ["Assembly", "NASM"],
    ".s": ["GAS"],
    ".r": ["R", "S"],
    ".prg": ["XBase", "FoxPro"],
    ".f": ["Fortran Fixed Form", "Fortran"],
    ".for": ["Fortran Fixed Form", "Fortran"],
    ".cu": ["CUDA"],
    ".ino": ["Arduino"],
    ".rl": ["Ragel in Ruby Host"],
    ".bc": ["BC"],
    ".tt": ["Treetop"],
    ".sv": ["SystemVerilog"],
    ".ts": ["TypeScript"],
    ".tsx": ["TypeScript", "XML"],
    ".fs": ["F#", "GLSL"],
    ".pp": ["Puppet", "Pascal"],
    ".cgi": ["Perl", "Python", "Shell"],
    ".mod": ["Modula-2", "AMPL", "Zimpl"],
    ".l": ["Lex", "Common Lisp", "Groff", "PicoLisp"],
    ".ml": ["OCaml", "Standard ML"],
    ".sc": ["Scala", "SuperCollider"],
    ".sch": ["Scheme", "KiCad"],
    ".lisp": ["Common Lisp"],
    ".cl": ["Common Lisp", "OpenCL"],
    ".k": ["K", "KRL"],
    ".q": ["Q", "HiveQL"],
    ".pro": ["IGOR Pro", "Proguard", "QMake", "IDL"],
    ".ms": ["GAS", "Groff", "MAXScript"],
    ".md": [],
    ".mc": ["Monkey", "Mason"],
    ".n": ["Groff", "Nemerle"],
    ".x": ["Logos", "RPC"],
    ".php": ["PHP", "Hack"],
    ".html": ["HTML", "HTML Django"],
    ".tpl": ["Smarty"],
    ".j": ["Jasmin", "Objective-J"],
    ".sol": ["Solidity"],
    ".ncl": ["NCL", "XML", "Gerber Image", "Text"],
    ".gs": ["Gosu", "GLSL", "Genie", "JavaScript"],
    ".ecl": ["ECLiPSe", "ECL"],
    ".st": ["Smalltalk", "StringTemplate"],
    ".bb": ["BitBake", "BlitzBasic", "Clojure"],
    ".lsp": ["Common Lisp", "NewLisp"],
    ".fcgi": ["Python", "Perl", "Shell", "Ruby", "PHP", "Lua"],
    ".rs": ["Rust", "RenderScript", "XML"],
    ".rpy": ["Ren'Py", "Python"],
    ".rd": ["R", "Rd"],  # lower-case .rd is R (Linguist); Rd documents are `.Rd` (CASE_SENSITIVE) or say \name{
    ".re": ["ReasonML", "C++"],
    ".ch": ["XBase", "FoxPro"],
    ".prw": ["XBase", "FoxPro"],
    ".f77": ["Fortran Fixed Form", "Fortran"],
    ".nas": ["NASM", "Assembly"],
    ".nasm": ["NASM", "Assembly"],
    ".p": ["OpenEdge ABL", "Gnuplot"],
    ".cbl": ["COBOL", "COBOLFree"],
    ".spec": ["Python", "Ruby", "RPM Spec"],
    ".i": ["SWIG", "Assembly"],
    ".gd": ["GDScript", "GAP"],
    ".es": ["JavaScript", "Erlang"],
    ".frag": ["GLSL", "JavaScript"],
    ".fx": ["HLSL", "Flux"],
    ".cake": ["C#", "CoffeeScript"],
}

# Languages that are no "real" candidates for a file but whose files share an extension with one of the
# 338 (facts from Linguist). A heuristic may pick one of these, and the file then gets language null.
# (Computed by the generator from Linguist; this only lists extra ones Linguist does not know.)
EXTRA_OUTSIDE: dict[str, list[str]] = {
    ".v": ["Coq", "V"],
    ".pl": ["Prolog"],
    ".pro": ["Prolog"],
    ".m": ["Mercury", "Wolfram Language"],
    ".cls": ["Apex", "VBA", "ObjectScript"],
    ".inc": [],
}

# tree-sitter-language-pack 0.13.0 grammar names for the 338 (checked to load by the generator).
GRAMMARS: dict[str, str] = {
    "ActionScript": "actionscript", "Ada": "ada", "Agda": "agda", "Arduino": "arduino", "Assembly": "asm",
    "GAS": "asm", "NASM": "asm", "BitBake": "bitbake", "C": "c", "C#": "csharp", "C++": "cpp",
    "CMake": "cmake", "COBOL": "cobol", "COBOLFree": "cobol", "CSS": "css", "CUDA": "cuda",
    "Clojure": "clojure", "Common Lisp": "commonlisp", "Dart": "dart", "Docker": "dockerfile",
    "Dockerfile": "dockerfile", "Elixir": "elixir", "Elm": "elm", "Emacs Lisp": "elisp", "Erlang": "erlang",
    "F#": "fsharp", "Fennel": "fennel", "Fish": "fish", "Fortran": "fortran", "GDScript": "gdscript",
    "GLSL": "glsl", "Go": "go", "GraphQL": "graphql", "Groovy": "groovy", "Gradle": "groovy", "HCL": "hcl",
    "HLSL": "hlsl", "HTML": "html", "Haskell": "haskell", "Haxe": "haxe", "JSON": "json",
    "Jupyter Notebook": "json", "Java": "java", "JavaScript": "javascript", "JSX": "javascript",
    "Julia": "julia", "Kconfig": "kconfig", "Kotlin": "kotlin", "LLVM": "llvm", "Linker Script": "linkerscript",
    "Lua": "lua", "MATLAB": "matlab", "Octave": "matlab", "Makefile": "make", "Meson": "meson",
    "NetLinx": "netlinx", "Nimrod": "nim", "Ninja": "ninja", "Nix": "nix", "OCaml": "ocaml",
    "Objective-C": "objc", "Odin": "odin", "Pascal": "pascal", "Perl": "perl", "PHP": "php",
    "HTML PHP": "php", "Pony": "pony", "PowerShell": "powershell", "Puppet": "puppet",
    "PureScript": "purescript", "Python": "python", "QML": "qmljs", "R": "r", "Racket": "racket",
    "Ruby": "ruby", "Rust": "rust", "Scala": "scala", "Scheme": "scheme", "SCSS": "scss", "Shell": "bash",
    "Smali": "smali", "Smithy": "smithy", "Solidity": "solidity", "SPARQL": "sparql", "SQL": "sql",
    "Transact-SQL": "sql", "Squirrel": "squirrel", "Swift": "swift", "Tcl": "tcl", "TeX": "latex",
    "Thrift": "thrift", "TypeScript": "typescript", "Twig": "twig", "Verilog": "verilog",
    "SystemVerilog": "verilog", "VHDL": "vhdl", "VimL": "vim", "Vue": "vue", "XML": "xml", "XSLT": "xml",
    "Zig": "zig", "Protocol Buffer": "proto", "WebAssembly": "wat", "Gettext Catalog": "po",
    "HTML ERB": "embeddedtemplate", "RHTML": "embeddedtemplate", "Gentoo Ebuild": "bash",
    "Gentoo Eclass": "bash", "Tcsh": None, "OpenSCAD": None, "DeviceTree": None,
}

# Grammars never used on untrusted content: measured to hang (tree-sitter's progress callback does not
# stop them). The generator also probes every mapped grammar in a subprocess and adds any that hang.
UNSAFE_GRAMMARS: set[str] = {"cobol"}

# Comment syntax (line comment, block comment open/close). Source: each language's reference manual.
_C = ("//", ("/*", "*/"))
COMMENT_FAMILIES: list[tuple[tuple[str | None, tuple[str, str] | None], str]] = [
    (_C, "AGS Script|ANTLR|ActionScript|Arduino|AspectJ|Boogie|C|C#|C++|CUDA|CapDL|Ceylon|Chapel|ChucK|Click|"
         "Cypher|DM|Dart|DeviceTree|Dylan|eC|F*|Fantom|Felix|Flux|FreeFem|GLSL|Go|Gosu|Gradle|Groovy|GSQL|"
         "Haxe|HLSL|JFlex|Java|JavaScript|JavaScript MozPreproc|JSX|Kotlin|Koka|LSL|Less|MQL|Metal|MiniScript|"
         "NetLinx|OMG Interface Definition Language|Objective-C|Objective-C++|Odin|OpenCL|OpenSCAD|Ox|PAWN|Pike|"
         "Pony|Processing|Protocol Buffer|QML|Q|RenderScript|ReasonML|Rust|SARL|SCSS|Sass|Scala|Silver|Smithy|"
         "Solidity|SourcePawn|Squirrel|Stan|Stylus|Swift|SystemVerilog|Thrift|TypeScript|Uno|UnrealScript|Vala|"
         "Verilog|Web IDL|Whiley|X10|XC|Xtend|Zephir|Groovy Server Pages|Grace|Gnuplot|JSONiq|Mosel|Opa|"
         "Graphviz DOT|Bluespec|Jasmin|PHP|Ride|SuperCollider|Yacc|Lex|Ragel in Ruby Host|Frege|GAP|Zig|"
         "Cirru|EmberScript|QVTO|Glyph|JAGS|ELPi|PEG|USD|Hack|BC|Asymptote|AMD GPU|Nit|Berry|Tea|TypoScript|"
         "Mirah|Genshi"),
    (("#", None), "AMPL|AWK|Apache Configuration|Augeas|BitBake|Bro|CMake|Crystal|Debian Control File|Docker|"
         "Dockerfile|Elixir|Execline|Fancy|Fish|GDScript|Gentoo Ebuild|Gentoo Eclass|Gettext Catalog|HCL|"
         "HTTP|Julia|Kconfig|Lighttpd Configuration File|Makefile|Meson|Nginx Configuration File|Nimrod|Ninja|"
         "Nix|Nu|NuSMV|Perl|Perl 6|PkgConfig|PowerShell|Puppet|Python|R|RAML|RConsole|Rd|Robot Framework|"
         "Ruby|S|Sage|Shell|ShExC|Sieve|Singularity|Tcl|Tcsh|Terminfo|Zeek|Zimpl|Cython|MoonScript|"
         "CoffeeScript|Literate CoffeeScript|Ren'Py|Handlebars|Stata|Limbo|Praat|Monkey|Io|Boo|Pawn|"
         "Objdump|G-Code|Jupyter Notebook|YANG|Unity3D Asset|Smali|Treetop|NCL|JCL|SWIG"),
    (("--", ("{-", "-}")), "Haskell|Agda|Literate Agda|Elm|PureScript|Idris|Futhark|C2HS Haskell|Koka"),
    (("--", ("/*", "*/")), "Lua|SQL|Transact-SQL|Ada|VHDL|Eiffel|Lean|Alloy|Cypher|UrWeb|Mizar|Transact"),
    ((";", None), "Assembly|NASM|Clojure|Common Lisp|Emacs Lisp|Fennel|Hy|LFE|Racket|Scheme|Red|Rouge|"
         "LLVM|Jasmin|DASM16|Papyrus|AutoHotkey|AutoIt|Inno Setup|NSIS|WebAssembly|Xtlang|Arc|Csound|"
         "Csound Score|MuPAD|Lighttpd|SMT|Ride|Wisp|Maxima|REXX|Squirrel|Linker Script|Smali"),
    ((None, ("(*", "*)")), "OCaml|Standard ML|Pascal|Modula-2|Mathematica|Isabelle|Boogie|AppleScript|F#|"
         "Grammatical Framework|Oz|POV-Ray|Component Pascal|Augeas|Sieve|EBNF|Inform 6 Template|Mosel"),
    (("%", None), "TeX|MATLAB|Octave|Erlang|Prolog|Logtalk|Turing|Matlab|Mercury|LilyPond|PostScript|BST|"
         "Oz|ABAP|Scilab|Gnuplot"),
    (("'", None), "Visual Basic|VBScript|REALbasic|BlitzBasic|BlitzMax|PureBasic|BrightScript|Monkey|XBase|"
         "FoxPro"),
    ((None, ("<!--", "-->")), "HTML|XML|XSLT|XML Lasso|HTML PHP|HTML Django|HTML ERB|RHTML|Vue|Java Server Pages|"
         "ColdFusion CFC|Liquid|Twig|Velocity|FreeMarker|Smarty|Mako|Mason|Genshi|Groovy Server Pages|"
         "Pug|Jade|Slim|ASP|Handlebars"),
]
# Line-comment overrides where a family above is only roughly right.
COMMENT_OVERRIDES: dict[str, tuple[str | None, tuple[str, str] | None]] = {
    "ABAP": ('"', None), "Ada": ("--", None), "APL": ("⍝", None), "Agda": ("--", ("{-", "-}")),
    "AppleScript": ("--", ("(*", "*)")), "Arc": (";", None), "ANSYS Parametric Design Language": ("!", None),
    "AmbientTalk": ("//", ("/*", "*/")), "BlitzMax": ("'", None), "BNF": (";", None), "Brainfuck": (None, None),
    "CADL": ("--", None), "COBOL": ("*>", None), "COBOLFree": ("*>", None), "CSS": (None, ("/*", "*/")),
    "Darcs Patch": (None, None), "Diff": (None, None), "EBNF": (None, ("(*", "*)")), "Factor": ("!", None),
    "Fortran": ("!", None), "Fortran Fixed Form": ("!", None), "FoxPro": ("&&", None), "Gnuplot": ("#", None),
    "Groff": ('.\\"', None), "IGOR Pro": ("//", None), "Isabelle": (None, ("(*", "*)")),
    "J": ("NB.", None), "JSON": (None, None), "Jade": ("//-", None), "Pug": ("//-", None), "K": ("/", None),
    "KRL": ("//", ("/*", "*/")), "LilyPond": ("%", ("%{", "%}")), "Logtalk": ("%", ("/*", "*/")),
    "M4": ("dnl", None), "MUF": (None, ("(", ")")), "Mathematica": (None, ("(*", "*)")),
    "Maxima": (None, ("/*", "*/")), "Mercury": ("%", None), "MooCode": (None, ("/*", "*/")),
    "Mosel": ("!", ("(!", "!)")), "MuPAD": ("//", ("/*", "*/")), "POD": (None, None), "Parrot Internal Representation": ("#", None),
    "Propeller Spin": ("'", ("{", "}")), "REXX": (None, ("/*", "*/")), "RConsole": ("#", None),
    "Red": (";", None), "SAS": (None, ("/*", "*/")), "SMT": (";", None), "SPARQL": ("#", None),
    "SQF": ("//", ("/*", "*/")), "Scilab": ("//", ("/*", "*/")), "Self": (None, ('"', '"')),
    "Slim": ("/", None), "Smarty": (None, ("{*", "*}")), "Standard ML": (None, ("(*", "*)")),
    "Stata": ("//", ("/*", "*/")), "Tea": ("//", ("/*", "*/")), "TeX": ("%", None),
    "Twig": (None, ("{#", "#}")), "HTML Django": (None, ("{#", "#}")), "Liquid": (None, ("{% comment %}", "{% endcomment %}")),
    "Velocity": ("##", ("#*", "*#")), "FreeMarker": (None, ("<#--", "-->")), "Mako": ("##", None),
    "Handlebars": (None, ("{{!--", "--}}")), "VCL": ("#", ("/*", "*/")), "VimL": ('"', None),
    "XQuery": (None, ("(:", ":)")), "Zimpl": ("#", None), "XS": (None, ("/*", "*/")), "YANG": ("//", ("/*", "*/")),
    "eC": ("//", ("/*", "*/")), "ooc": ("//", ("/*", "*/")), "Io": ("//", ("/*", "*/")),
    "Jupyter Notebook": (None, None), "Unity3D Asset": ("#", None), "Objdump": (None, None),
    "Ceylon": ("//", ("/*", "*/")), "Modelica": ("//", ("/*", "*/")), "OpenEdge ABL": ("//", ("/*", "*/")),
    "PureBasic": (";", None), "Sage": ("#", None), "Q": ("/", None), "DASM16": (";", None),
    "Limbo": ("#", None), "Nit": ("#", None), "Berry": ("#", ("#-", "-#")), "GAP": ("#", None),
    "Asymptote": ("//", ("/*", "*/")), "Lean": ("--", ("/-", "-/")), "Cirru": (";", None),
    "Glyph": ("#", None), "PEG": ("#", None), "USD": ("#", None), "BC": ("#", ("/*", "*/")),
    "Nu": (";", None), "Mirah": ("#", None), "Genshi": (None, ("<!--", "-->")), "AMD GPU": (";", None),
    "Jasmin": (";", None), "JAGS": ("#", None), "ELPi": ("%", None), "Tcsh": ("#", None),
    "Kconfig": ("#", None), "QVTO": ("--", ("/*", "*/")), "Ride": ("#", None), "Cypher": ("//", ("/*", "*/")),
    "Linker Script": (None, ("/*", "*/")), "Inform 6 Template": ("!", None), "Smali": ("#", None),
    "WebAssembly": (";;", ("(;", ";)")), "Csound": (";", ("/*", "*/")), "Csound Score": (";", ("/*", "*/")),
    "Squirrel": ("//", ("/*", "*/")), "Graphviz DOT": ("//", ("/*", "*/")), "Gradle": ("//", ("/*", "*/")),
    "Bluespec": ("//", ("/*", "*/")), "Boogie": ("//", ("/*", "*/")), "F#": ("//", ("(*", "*)")),
    "Grammatical Framework": ("--", ("{-", "-}")), "Augeas": (None, ("(*", "*)")), "Sieve": ("#", ("/*", "*/")),
    "POV-Ray": ("//", ("/*", "*/")), "Oz": ("%", ("/*", "*/")), "Pascal": ("//", ("{", "}")),
    "Modula-2": (None, ("(*", "*)")), "OCaml": (None, ("(*", "*)")), "Gosu": ("//", ("/*", "*/")),
    "Monkey": ("'", None), "MATLAB": ("%", ("%{", "%}")),
    "Octave": ("%", ("%{", "%}")), "Erlang": ("%", None), "Haskell": ("--", ("{-", "-}")),
    "Lua": ("--", ("--[[", "]]")), "Mason": ("#", None), "XBase": ("//", ("/*", "*/")),
    "ASP": ("'", None), "Visual Basic": ("'", None), "Vue": (None, ("<!--", "-->")),
    "Java Server Pages": (None, ("<%--", "--%>")), "ColdFusion CFC": ("//", ("/*", "*/")),
    "Groovy Server Pages": (None, ("<%--", "--%>")), "HTML ERB": (None, ("<%#", "%>")),
    "RHTML": (None, ("<%#", "%>")), "HTML PHP": (None, ("<!--", "-->")), "NCL": (";", None),
    "JCL": ("//*", None), "SWIG": ("//", ("/*", "*/")), "Treetop": ("#", None), "NSIS": (";", ("/*", "*/")),
    "Inno Setup": (";", None), "AutoIt": (";", None), "AutoHotkey": (";", None),
    "PowerShell": ("#", ("<#", "#>")), "Python": ("#", None),
}

# Pygments-only names whose language Linguist lists under another name: take Linguist's facts as well.
LINGUIST_EQUIV: dict[str, list[str]] = {
    "Nimrod": ["Nim"], "ReasonML": ["Reason"], "Transact-SQL": ["TSQL"],
    "Debian Control File": ["Debian Package Control File"], "Robot Framework": ["RobotFramework"],
    "POD": ["Pod"], "Web IDL": ["WebIDL"], "MQL": ["MQL4", "MQL5"], "Perl 6": ["Raku"],
    "Docker": ["Dockerfile"], "Jade": ["Pug"], "Mizar": [],
    # Linguist splits these off; among the 338 only the broader name exists.
    "Fortran": ["Fortran Free Form"], "JSON": ["JSON with Comments"],
}

# Shared extensions where tree-sitter parse quality does not separate the candidates (measured, see
# docs/languages.md): the C, C++ and Objective-C grammars all parse C, and on real C headers the C grammar
# trips over attribute macros (__THROW, __nonnull) more than the C++ one, so C++ "won" for C headers.
# .inc: the PHP grammar parses any text as inline HTML without an error, so PHP "won" every .inc file.
NO_TREE_SITTER: set[str] = {".h", ".inc"}
PREPROCESS: dict[str, str] = {".h": "c"}

# Facts removed from one language because another of the 338 owns them (a shebang or file name must
# name exactly one language): Pod documents are read by perl but a perl shebang means Perl; node/bun
# run TypeScript too but a node shebang means JavaScript; .Rprofile is R, not its ancestor S.
DROP_FACTS: dict[str, dict[str, list[str]]] = {
    "POD": {"interpreters": ["perl"]},
    "TypeScript": {"interpreters": ["node", "bun"]},
    "JavaScript": {"interpreters": ["deno"]},  # deno runs TypeScript natively: its scripts are mostly .ts
    "S": {"filenames": [".Rhistory", ".Rprofile", ".Renviron"]},
}

# --- Linguist's own content rules (heuristics.yml) -----------------------------------------------------
# Shared extensions whose rules come from Linguist's table rather than (only) heuristic_rules.py: there
# the documented default was usually wrong on real files (a QMake or ProGuard .pro became IGOR Pro, a
# Makefile fragment .inc became PHP, a troff .ms became GAS). Linguist's rules run first, ours after
# them; a file no rule recognises gets no language (LINGUIST_NO_DEFAULT) instead of a wrong guess.
LINGUIST_RULES: set[str] = {".inc", ".ms", ".pro"}
# How many of our leading rules (heuristic_rules.py) run before Linguist's: for .inc, NASM (its own name
# here, but part of Linguist's "Assembly", whose `mov x,` rule would claim every NASM include), POV-Ray,
# SourcePawn and PAWN (they use `#include` too), then C preprocessor directives (Linguist leaves C++ to
# its classifier, so its NASL rule reads `namespace x {` in LLVM's generated .inc files as NASL).
OURS_FIRST: dict[str, int] = {".inc": 5}
# Linguist names that are one of the 338 under another spelling in the heuristics table.
LINGUIST_HEURISTIC_NAMES: dict[str, str] = {"Roff": "Groff", "Unix Assembly": "GAS", "POV-Ray SDL": "POV-Ray",
                                            "Raku": "Perl 6", "Roff Manpage": "Groff"}
# Shared extensions where nothing-recognised means null, not the first candidate. .fx: Linguist has no
# rule for it; HLSL effect files and Flux queries are told apart by heuristic_rules.py.
NO_DEFAULT: set[str] = {".inc", ".ms", ".pro", ".fx"}

# Extensions whose letter case names the language (compared before the case-insensitive table). Facts:
# R documentation files are `.Rd` (R's "Writing R Extensions"); a capital `.F` is fixed-form Fortran
# run through the C preprocessor (gfortran's file-name rules; Pygments' FortranFixed claims `*.F`, its
# free-form lexer does not). `.R`/`.S` are not listed although Pygments' S lexer claims them: `.R` is R
# and `.S` is preprocessed assembler, so those stay with the case-insensitive rules.
CASE_SENSITIVE: dict[str, str] = {".Rd": "Rd", ".F": "Fortran Fixed Form", ".FOR": "Fortran Fixed Form"}

# Code-related data and text kept with their own names although they are not among the 338 (DeepSeek's
# rules name JSON/YAML and XML; V2 counts 185B tokens of code-related text such as Markdown). Facts come
# from Linguist's languages.yml; `drop` removes extensions that mean something else in repositories.
CODE_RELATED: dict[str, dict] = {
    "Markdown": {"line_comment": None, "block_comment": ("<!--", "-->"), "drop": [".scd", ".workbook", ".livemd"]},
    "reStructuredText": {"line_comment": "..", "block_comment": None},
    "AsciiDoc": {"line_comment": "//", "block_comment": None, "drop": [".asc"]},  # .asc: PGP armour mostly
    "YAML": {"line_comment": "#", "block_comment": None},
    "TOML": {"line_comment": "#", "block_comment": None},
    # .pro is shared (QMake, IDL, Prolog, ...); .frm is Visual Basic forms; .url/.dof are tool state.
    "INI": {"line_comment": ";", "block_comment": None, "drop": [".pro", ".frm", ".url", ".dof", ".properties"]},
    "Java Properties": {"line_comment": "#", "block_comment": None},
    "EditorConfig": {"line_comment": "#", "block_comment": None},
    "Git Config": {"line_comment": "#", "block_comment": None},
    "JSON5": {"line_comment": "//", "block_comment": ("/*", "*/")},
    "XML Property List": {"line_comment": None, "block_comment": ("<!--", "-->")},
    "SVG": {"line_comment": None, "block_comment": ("<!--", "-->")},
}

# Filename patterns Linguist has no table for but real repositories use (`Dockerfile.multi-arch`,
# `Makefile.am.inc`): tried after the file's own unique extension (`Dockerfile.py` stays Python), before
# shebangs and the content defaults of shared extensions.
NAME_PATTERNS: dict[str, list[str]] = {
    "Dockerfile": ["Dockerfile.*", "Containerfile.*", "dockerfile.*", "*.Dockerfile"],
    "Makefile": ["Makefile.*", "makefile.*", "GNUmakefile.*", "BSDmakefile.*"],
}

# Code-related names that only a folder gives (a file name alone would be too general): matched against
# the end of the repository path. Cargo reads `.cargo/config` as TOML.
RELATED_PATHS: dict[str, str] = {".cargo/config": "TOML"}
