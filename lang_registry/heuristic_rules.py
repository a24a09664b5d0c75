"""Content rules for shared extensions (written for this project; reviewed like code).

`HEURISTICS[ext]` is an ordered list of (language, regex); the first regex found in the file's first
bytes decides. A language outside the 338 (e.g. Prolog for .pl, Coq for .v) makes the file's language
null: it is not one of ours, and guessing the default would put it in the wrong bucket.
Regexes are compiled with re.MULTILINE. The generator copies them into the data file.
"""

from __future__ import annotations

_OBJC = r"^[ \t]*(@(interface|implementation|protocol|end|property|synthesize|class|import)\b|#import\s)|\[[ \t]*\w+[ \t]+\w+:|\bNS[A-Z]\w+[ \t]*\*"
_CPP = (r"^\s*(template\s*<|namespace\s+\w+|using\s+namespace\b|class\s+\w+\s*(final\s*)?[:{]|"
        r"#include\s*<(iostream|string|vector|map|memory|algorithm|cstdint|cstddef|utility|functional|"
        r"unordered_map|type_traits|array|optional|thread|mutex|sstream|cmath|cstdlib|cstring)>)|\bstd::|"
        r"\b(public|private|protected):|\b(constexpr|nullptr|noexcept|static_cast|virtual)\b|::~?[A-Za-z_]")

HEURISTICS: dict[str, list[tuple[str, str]]] = {
    ".h": [
        ("Objective-C", _OBJC),
        ("C++", _CPP),
    ],
    ".m": [
        ("Objective-C", _OBJC + r"|^\s*#include\s*[<\"]|^\s*[-+]\s*\(\w+"),
        ("Mercury", r"^:-\s*(module|interface|implementation|import_module)\b"),
        ("Limbo", r"^\s*implement\s+\w+\s*;|^include\s+\"sys\.m\"\s*;"),
        ("Mason", r"<%(args|init|perl|once|method|def)>"),
        ("Wolfram Language", r"\(\*[\s\S]*?\*\)|:=\s*Module\[|\bBeginPackage\["),
        ("MUF", r"^:\s+\w+|^\s*\$(def|include)\b"),
        # Octave-only syntax: '#' comments, endfunction/endif, printf, != and the '!' logical not.
        ("Octave", r"^\s*(endfunction|endif|endwhile|endfor|end_try_catch|end_unwind_protect|unwind_protect)\b|"
                   r"^\s*#|\bprintf\s*\(|^\s*1;\s*$"),
        ("MATLAB", r"^\s*(function|classdef|properties|methods)\b|^\s*%|\bend\s*$|\bdisp\s*\(|\bzeros\s*\(|\bfprintf\s*\("),
    ],
    ".pl": [
        ("Perl 6", r"^\s*(use\s+v6\b|unit\s+(module|class|grammar)\b|my\s+(class|grammar)\b)|\bsay\s+.*\.\w+\(|^\s*(multi|proto)\s+sub\b|\bhas\s+\$\.\w+"),
        ("Perl", r"^\s*(use\s+(strict|warnings|lib|vars|constant|POSIX)\b|package\s+[\w:]+\s*;|sub\s+\w+\s*\{|my\s+[\$@%]\w+|require\s+[\w:]+|__END__|__DATA__)"),
        ("Prolog", r"^\s*:-\s*\w+|^\w+(\([^)]*\))?\s*:-|^\s*\w+\([^)]*\)\s*\.\s*$"),
    ],
    ".pm": [
        ("Perl 6", r"^\s*(use\s+v6\b|unit\s+(module|class|grammar|role)\b)|^\s*(multi|proto)\s+sub\b|\bhas\s+\$\.\w+"),
        ("Perl", r"^\s*(package\s+[\w:]+|use\s+(strict|warnings)\b|sub\s+\w+)"),
    ],
    ".t": [
        ("Perl 6", r"^\s*use\s+v6\b|^\s*use\s+Test\s*;\s*$[\s\S]*\bplan\s+\d+\s*;|^\s*(multi|proto)\s+sub\b"),
        ("Perl", r"^\s*use\s+(strict|warnings|Test::\w+)|^\s*my\s+[\$@%]\w+"),
        ("Turing", r"^\s*(put|get)\s+\w+|\bend\s+(if|loop|for)\b"),
    ],
    ".v": [
        ("Coq", r"^\s*(Require\s+(Import|Export)|Theorem|Lemma|Proof\.|Qed\.|Inductive|Fixpoint|Definition\s+\w+.*:=)"),
        ("V", r"^\s*(module\s+main|fn\s+\w+\s*\(|import\s+\w+\s*$)|\bfn\s+main\s*\(\s*\)"),
        ("Verilog", r"^\s*(module\s+\w+\s*[#(;]|`(timescale|define|include)\b|always\s*@|assign\s+\w+|endmodule)"),
    ],
    ".inc": [
        ("PHP", r"<\?(php|=)?\s"),
        ("NASM", r"^\s*%(define|macro|ifdef|include|assign)\b|^\s*(section|segment)\s+\.\w+|^\s*bits\s+(16|32|64)\b"),
        ("Assembly", r"^\s*\w+\s+(equ|EQU|macro|MACRO)\b|^\s*(IFDEF|ENDIF|INCLUDE)\b"),
        ("SourcePawn", r"#include\s+<sourcemod>|#pragma\s+semicolon|\bpublic\s+(Plugin|Action|void)\b|#if\s+defined\s+_\w+_included"),
        ("PAWN", r"\bnative\s+\w+\s*\(|\bforward\s+\w+\s*\(|\bstock\s+\w+"),
        ("POV-Ray", r"^\s*#(declare|local|macro|version)\b|\b(pigment|texture|finish)\s*\{"),
        ("Pascal", r"^\s*(procedure|function|unit|interface|implementation|const|type|var)\b.*;|\bbegin\b[\s\S]*\bend\s*[;.]"),
        ("BitBake", r"^\s*(SRC_URI|DEPENDS|RDEPENDS|inherit|LICENSE|PACKAGECONFIG)\b"),
        ("HTML", r"^\s*<(div|p|table|span|a|ul|li|html|head|body|script|link|meta)[\s>]"),
        ("SQL", r"^\s*(SELECT|INSERT|CREATE|UPDATE|DELETE|ALTER)\s", ),
        ("C++", r"^\s*#\s*(include|define|ifndef|ifdef|if|pragma)\b|\b(int|void|char|static|const)\s+\w+"),
    ],
    ".cls": [
        ("TeX", r"\\(NeedsTeXFormat|ProvidesClass|LoadClass|DeclareOption|documentclass|newcommand|def)\b"),
        ("Visual Basic", r"^\s*VERSION\s+\d+\.\d+\s+CLASS|^\s*Attribute\s+VB_\w+|^\s*BEGIN\s*$"),
        ("OpenEdge ABL", r"^\s*(CLASS|USING|METHOD|DEFINE)\s+[\w.]+.*:|\bEND\s+(CLASS|METHOD)\s*\."),
        ("Apex", r"\b(public|global|private)\s+(with\s+sharing|without\s+sharing|virtual|abstract)?\s*class\b|@isTest\b|\bSystem\.debug\("),
        ("ObjectScript", r"^\s*Class\s+[\w.]+\s+Extends\b|^\s*(ClassMethod|Method)\s+\w+\("),
    ],
    ".sql": [
        ("Transact-SQL", r"^\s*GO\s*$|@@\w+|\[dbo\]|\bNVARCHAR\b|\bIDENTITY\s*\(|\bBEGIN\s+TRAN(SACTION)?\b|\bSELECT\s+TOP\s+\d|\bEXEC(UTE)?\s+sp_|\bDECLARE\s+@\w+"),
    ],
    ".asm": [
        ("NASM", r"^\s*%(define|macro|include|ifdef)\b|^\s*(section|segment)\s+\.\w+|^\s*bits\s+(16|32|64)\b|^\s*global\s+_?\w+"),
    ],
    ".s": [
        ("S", r"<-\s*function\s*\(|^\s*\w+\s*<-\s*(c|list|data\.frame)\("),
    ],
    ".r": [
        ("Rebol", r"(?i)^\s*REBOL\s*\["),
        ("S", r"^\s*(setMethod|setClass|setGeneric)\(\s*\"[\w.]+\"\s*,\s*where\s*="),
    ],
    ".rs": [
        ("RenderScript", r"^\s*#pragma\s+(rs\s+java_package_name|version\s*\(\s*1\s*\))"),
    ],
    ".rpy": [
        ("Ren'Py", r"^\s*(label|screen|init(\s+-?\d+)?(\s+python)?|define|image|menu|transform)\b[^\n]*:\s*$|^\s*(define|default)\s+\w+\s*=\s*Character\("),
    ],
    ".rd": [
        ("Rd", r"^\s*\\(name|alias|title|description|usage|arguments)\{"),
    ],
    ".re": [
        ("C++", r"/\*!re2c|^\s*#include\s*[<\"]"),
    ],
    ".spec": [
        ("RPM Spec", r"^(Name|Version|Release|Summary|License|BuildRequires):\s"),
        ("Ruby", r"Gem::Specification|^\s*Pod::Spec"),
    ],
    ".p": [
        ("Gnuplot", r"^\s*(set|plot|splot|replot)\s"),
        ("OpenEdge ABL", r"(?i)\b(DEFINE\s+(VARIABLE|TEMP-TABLE|BUFFER)|FOR\s+EACH|END\.)"),
    ],
    ".b": [
        ("Limbo", r"^\s*implement\s+\w+\s*;|^include\s+\"\w+\.m\"\s*;"),
        ("Brainfuck", r"\A[\s\[\]<>+\-.,]+\Z"),
    ],
    ".cbl": [
        ("COBOLFree", r"(?i)>>\s*SOURCE\s+FORMAT\s+(IS\s+)?FREE|\A\s{0,3}(IDENTIFICATION|ID)\s+DIVISION"),
    ],
    ".i": [
        ("SWIG", r"^\s*%(module|include|{|typemap|inline)\b"),
    ],
    ".gd": [
        ("GAP", r"^\s*(DeclareOperation|DeclareGlobalFunction|DeclareAttribute|DeclareProperty|BindGlobal)\("),
    ],
    ".es": [
        ("Erlang", r"^\s*-(module|export|define|record)\(|^#!.*escript"),
    ],
    ".fx": [
        ("Flux", r"^\s*(import\s+\"|from\(bucket|\|>\s*range\()"),
    ],
    ".cake": [
        ("CoffeeScript", r"^\s*task\s+['\"]|\s->\s*$"),
    ],
    ".g": [
        ("G-Code", r"(?m)^\s*[GM]\d+\b"),
    ],
    ".matlab": [
        ("Octave", r"^\s*(endfunction|endif|end_try_catch)\b|^\s*#"),
    ],
    ".prg": [
        ("FoxPro", r"(?i)^\s*(define\s+class|enddefine|lparameters|thisform|local\s+\w+\s+as\s+\w+)\b|&&"),
        ("XBase", r"(?i)^\s*#include\s+\"\w+\.ch\"|^\s*(function|procedure)\s+\w+\s*\(|\breturn\s+nil\b|:="),
    ],
    ".f": [
        ("Fortran", r"(?i)^\s*(module|program|subroutine|function)\s+\w+.*\n(\s.*\n)*?\s*implicit\s+none|^\s{0,4}\S.*::"),
        ("Fortran Fixed Form", r"(?i)^[cC*!]|^      \S|^     \S"),
    ],
    ".for": [
        ("Fortran Fixed Form", r"(?i)^[cC*]|^      \S"),
    ],
    ".pp": [
        ("Pascal", r"(?i)^\s*(unit|program|uses|interface|implementation)\b|\bbegin\b[\s\S]*\bend\."),
        ("Puppet", r"^\s*(class|define|node)\s+[\w:]+\s*[({]|=>\s*|\$\w+\s*="),
    ],
    ".cgi": [
        ("Perl", r"^#!.*\bperl\b|^\s*use\s+(strict|CGI)\b"),
        ("Python", r"^#!.*\bpython|^\s*(import|from)\s+\w+"),
        ("Shell", r"^#!.*\b(ba|z|k)?sh\b"),
    ],
    ".l": [
        ("Lex", r"^%%\s*$|^%\{"),
        ("Common Lisp", r"^\s*\((defun|defmacro|defvar|in-package|defpackage)\b"),
        ("PicoLisp", r"^\s*\((de|class)\s"),
        ("Groff", r"^\.(TH|SH|PP|B|I)\b"),
    ],
    ".ml": [
        ("Standard ML", r"^\s*(structure|signature|functor)\s+\w+\s*[:=]|\bfun\s+\w+.*=|\bval\s+\w+\s*:"),
        ("OCaml", r"^\s*(let|open|module|type)\b"),
    ],
    ".sc": [
        ("SuperCollider", r"\bSynthDef\s*\(|\b(SinOsc|Pbind|Server)\.\w+|^\s*~\w+\s*="),
        ("Scala", r"^\s*(import|object|val|def|case\s+class)\b"),
    ],
    ".cl": [
        ("OpenCL", r"__kernel|\bkernel\s+void\b|__global\b|get_global_id\s*\("),
        ("Common Lisp", r"^\s*\((defun|defmacro|defvar|in-package|defpackage)\b"),
    ],
    ".mod": [
        ("Modula-2", r"^\s*(IMPLEMENTATION\s+|DEFINITION\s+)?MODULE\s+\w+\s*;"),
        ("AMPL", r"^\s*(param|var|set|subject\s+to|minimize|maximize)\s"),
        ("Zimpl", r"^\s*(param|var|set|subto|minimize|maximize)\s+\w+.*:="),
    ],
    ".k": [
        ("KRL", r"^\s*ruleset\s+[\w.]+\s*\{"),
    ],
    ".ms": [
        ("Groff", r"^\.(TL|AU|NH|SH|PP|LP|IP|TH)\b"),
        ("GAS", r"^\s*\.(text|data|globl|section)\b"),
    ],
    ".fs": [
        ("GLSL", r"^\s*#version\s+\d+|\bgl_FragColor\b|\buniform\s+\w+|\bvoid\s+main\s*\("),
        ("F#", r"^\s*(open|module|namespace|let|type)\s"),
    ],
    ".html": [
        ("HTML Django", r"\{%\s*(extends|block|load|endblock|for|endfor|if|endif|url|csrf_token)\b"),
    ],
    ".gs": [
        ("GLSL", r"^\s*#version\s+\d+|\bgl_\w+|\blayout\s*\("),
        ("JavaScript", r"\bfunction\s+\w+\s*\(|\bvar\s+\w+\s*=|\bSpreadsheetApp\b"),
        ("Gosu", r"^\s*(uses|package)\s+[\w.]+|\bclass\s+\w+\s*\{"),
    ],
    ".bb": [
        ("BitBake", r"^\s*(SRC_URI|DEPENDS|inherit|LICENSE|SUMMARY|DESCRIPTION)\b|^\s*do_\w+\s*\(\)"),
        ("Clojure", r"^\s*\((ns|defn|def|require)\b"),
        ("BlitzBasic", r"(?i)^\s*(Graphics|Function|Global|Local|EndIf|Wend)\b"),
    ],
    ".php": [
        ("Hack", r"^<\?hh\b"),
    ],
    ".j": [
        ("Jasmin", r"^\s*\.(class|method|super|limit)\b"),
        ("Objective-J", r"^\s*@(import|implementation)\b"),
    ],
    ".st": [
        ("StringTemplate", r"\$\w+\$|<\w+>|group\s+\w+;"),
    ],
    ".mc": [
        ("Mason", r"<%(args|init|perl|once|method|def)>|<&\s"),
        ("Monkey", r"(?i)^\s*(Strict|Import|Function|Class)\b"),
    ],
    ".n": [
        ("Groff", r"^\.(TH|SH|PP|B|I|nr|de)\b"),
    ],
    ".q": [
        ("HiveQL", r"(?i)^\s*(SELECT|CREATE|INSERT|DROP)\s"),
    ],
    ".pro": [
        ("Prolog", r"^\s*:-\s*\w+|^\w+(\([^)]*\))?\s*:-"),
        ("IGOR Pro", r"(?i)^\s*#pragma\s+rtGlobals|^\s*(Function|Macro|EndMacro|End)\b"),
        ("QMake", r"^\s*(QT|SOURCES|HEADERS|TEMPLATE|CONFIG|TARGET)\s*[+\-]?="),
        ("IDL", r"(?i)^\s*(pro|function)\s+\w+\s*,|^\s*end\s*$"),
    ],
}
