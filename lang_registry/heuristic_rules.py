"""Content rules for shared extensions (written for this project; reviewed like code).

`HEURISTICS[ext]` is an ordered list of (language, regex); the first regex found in the file's first
bytes decides. A language outside the 338 (e.g. Prolog for .pl, Coq for .v) makes the file's language
null: it is not one of ours, and guessing the default would put it in the wrong bucket.
Regexes are compiled with re.MULTILINE. The generator copies them into the data file.
"""

from __future__ import annotations

_OBJC = r"^[ \t]*(@(interface|implementation|protocol|end|property|synthesize|class|import)\b|#import\s)|\[[ \t]*\w+[ \t]+\w+:|\bNS[A-Z]\w+[ \t]*\*"
_CPP = (r"^[ \t]*(template\s*<|namespace\s+\w+|using\s+namespace\b|class\s+\w+\s*(final\s*)?[:{]|"
        r"#include\s*<(iostream|string|vector|map|memory|algorithm|cstdint|cstddef|utility|functional|"
        r"unordered_map|type_traits|array|optional|thread|mutex|sstream|cmath|cstdlib|cstring)>)|\bstd::|"
        r"\b(public|private|protected):|\b(constexpr|nullptr|noexcept|static_cast|virtual)\b|::~?[A-Za-z_]")

HEURISTICS: dict[str, list[tuple[str, str]]] = {
    ".h": [
        ("Objective-C", _OBJC),
        ("C++", _CPP),
    ],
    ".m": [
        ("Objective-C", _OBJC + r"|^[ \t]*#include\s*[<\"]|^[ \t]*[-+]\s*\(\w+"),
        ("Mercury", r"^:-\s*(module|interface|implementation|import_module)\b"),
        ("Limbo", r"^[ \t]*implement\s+\w+\s*;|^include\s+\"sys\.m\"\s*;"),
        ("Mason", r"<%(args|init|perl|once|method|def)>"),
        ("Wolfram Language", r"\(\*[\s\S]*?\*\)|:=\s*Module\[|\bBeginPackage\["),
        ("MUF", r"^:\s+\w+|^[ \t]*\$(def|include)\b"),
        # Octave-only syntax: '#' comments, endfunction/endif, printf, != and the '!' logical not.
        ("Octave", r"^[ \t]*(endfunction|endif|endwhile|endfor|end_try_catch|end_unwind_protect|unwind_protect)\b|"
                   r"^[ \t]*#|\bprintf\s*\(|^[ \t]*1;\s*$"),
        ("MATLAB", r"^[ \t]*(function|classdef|properties|methods)\b|^[ \t]*%|\bend\s*$|\bdisp\s*\(|\bzeros\s*\(|\bfprintf\s*\("),
    ],
    ".pl": [
        ("Perl 6", r"^[ \t]*(use\s+v6\b|unit\s+(module|class|grammar)\b|my\s+(class|grammar)\b)|^[ \t]*(multi|proto)\s+sub\b|\bhas\s+\$\.\w+"),
        ("Perl", r"^[ \t]*(use\s+(strict|warnings|lib|vars|constant|POSIX)\b|package\s+[\w:]+\s*;|sub\s+\w+\s*\{|my\s+[\$@%]\w+|require\s+[\w:]+|__END__|__DATA__)"),
        ("Prolog", r"^[ \t]*:-\s*\w+|^\w+(\([^)]*\))?\s*:-|^[ \t]*\w+\([^)]*\)\s*\.\s*$"),
    ],
    ".pm": [
        ("Perl 6", r"^[ \t]*(use\s+v6\b|unit\s+(module|class|grammar|role)\b)|^[ \t]*(multi|proto)\s+sub\b|\bhas\s+\$\.\w+"),
        ("Perl", r"^[ \t]*(package\s+[\w:]+|use\s+(strict|warnings)\b|sub\s+\w+)"),
    ],
    ".t": [
        ("Perl 6", r"^[ \t]*use\s+v6\b|^[ \t]*use\s+Test\s*;\s*$[\s\S]*\bplan\s+\d+\s*;|^[ \t]*(multi|proto)\s+sub\b"),
        ("Perl", r"^[ \t]*use\s+(strict|warnings|Test::\w+)|^[ \t]*my\s+[\$@%]\w+"),
        ("Turing", r"^[ \t]*(put|get)\s+\w+|\bend\s+(if|loop|for)\b"),
    ],
    ".v": [
        ("Coq", r"^[ \t]*(Require\s+(Import|Export)|Theorem|Lemma|Proof\.|Qed\.|Inductive|Fixpoint|Definition\s+\w+.*:=)"),
        ("V", r"^[ \t]*(module\s+main|fn\s+\w+\s*\(|import\s+\w+\s*$)|\bfn\s+main\s*\(\s*\)"),
        ("Verilog", r"^[ \t]*(module\s+\w+\s*[#(;]|`(timescale|define|include)\b|always\s*@|assign\s+\w+|endmodule)"),
    ],
    ".inc": [
        # The first five run before Linguist's rules (curated.OURS_FIRST): NASM is a name of its own here;
        # POV-Ray, SourcePawn and PAWN includes use C-preprocessor lines too; C-preprocessor lines then say
        # C++ before Linguist's NASL rule reads `namespace x {` in LLVM's generated .inc files as NASL.
        ("NASM", r"^[ \t]*%(define|macro|ifdef|include|assign)\b|^[ \t]*(section|segment)\s+\.\w+|^[ \t]*bits\s+(16|32|64)\b"),
        ("POV-Ray", r"^[ \t]*#(declare|local|macro|version)\b|\b(pigment|texture|finish)\s*\{"),
        ("SourcePawn", r"#include\s+<sourcemod>|#pragma\s+semicolon|\bpublic\s+(Plugin|Action|void)\b|#if\s+defined\s+_\w+_included"),
        ("PAWN", r"\bnative\s+\w+\s*\(|\bforward\s+\w+\s*\(|\bstock\s+\w+"),
        # Directives only, spelled as C spells them: `# if the user ...` in a shell comment is not one.
        ("C++", r"^[ \t]*#[ \t]*(include\s*[<\"]|define\s+\w|undef\s+\w|ifn?def\s+\w|if\s+(!?\s*defined\b|\d)|pragma\s+\w|endif\b)"),
        ("PHP", r"<\?(php|=)?\s"),
        ("Assembly", r"^[ \t]*\w+\s+(equ|EQU|macro|MACRO)\b|^[ \t]*(IFDEF|ENDIF|INCLUDE)\b"),
        ("Pascal", r"^[ \t]*(procedure|function|unit|interface|implementation|const|type|var)\b.*;|\bbegin\b[\s\S]*\bend\s*[;.]"),
        ("BitBake", r"^[ \t]*(SRC_URI|DEPENDS|RDEPENDS|inherit|LICENSE|PACKAGECONFIG)\b"),
        ("HTML", r"^[ \t]*<(div|p|table|span|a|ul|li|html|head|body|script|link|meta)[\s>]"),
        ("SQL", r"^[ \t]*(SELECT|INSERT|CREATE|UPDATE|DELETE|ALTER)\s", ),
        ("C++", r"\b(int|void|char|static|const)\s+\w+"),
    ],
    ".cls": [
        ("TeX", r"\\(NeedsTeXFormat|ProvidesClass|LoadClass|DeclareOption|documentclass|newcommand|def)\b"),
        ("Visual Basic", r"^[ \t]*VERSION\s+\d+\.\d+\s+CLASS|^[ \t]*Attribute\s+VB_\w+|^[ \t]*BEGIN\s*$"),
        ("OpenEdge ABL", r"^[ \t]*(CLASS|USING|METHOD|DEFINE)\s+[\w.]+.*:|\bEND\s+(CLASS|METHOD)\s*\."),
        ("Apex", r"\b(public|global|private)\s+(with\s+sharing|without\s+sharing|virtual|abstract)?\s*class\b|@isTest\b|\bSystem\.debug\("),
        ("ObjectScript", r"^[ \t]*Class\s+[\w.]+\s+Extends\b|^[ \t]*(ClassMethod|Method)\s+\w+\("),
    ],
    ".sql": [
        ("Transact-SQL", r"^[ \t]*GO\s*$|@@\w+|\[dbo\]|\bNVARCHAR\b|\bIDENTITY\s*\(|\bBEGIN\s+TRAN(SACTION)?\b|\bSELECT\s+TOP\s+\d|\bEXEC(UTE)?\s+sp_|\bDECLARE\s+@\w+"),
    ],
    ".asm": [
        ("NASM", r"^[ \t]*%(define|macro|include|ifdef)\b|^[ \t]*(section|segment)\s+\.\w+|^[ \t]*bits\s+(16|32|64)\b|^[ \t]*global\s+_?\w+"),
    ],
    ".s": [
        ("S", r"<-\s*function\s*\(|^[ \t]*\w+\s*<-\s*(c|list|data\.frame)\("),
    ],
    ".r": [
        ("Rebol", r"(?i)^[ \t]*REBOL\s*\["),
        ("S", r"^[ \t]*(setMethod|setClass|setGeneric)\(\s*\"[\w.]+\"\s*,\s*where\s*="),
    ],
    ".rs": [
        ("RenderScript", r"^[ \t]*#pragma\s+(rs\s+java_package_name|version\s*\(\s*1\s*\))"),
    ],
    ".rpy": [
        ("Ren'Py", r"^[ \t]*(label|screen|init(\s+-?\d+)?(\s+python)?|define|image|menu|transform)\b[^\n]*:\s*$|^[ \t]*(define|default)\s+\w+\s*=\s*Character\("),
    ],
    ".rd": [
        ("Rd", r"^[ \t]*\\(name|alias|title|description|usage|arguments)\{"),
    ],
    ".re": [
        ("C++", r"/\*!re2c|^[ \t]*#include\s*[<\"]"),
    ],
    ".spec": [
        ("RPM Spec", r"^(Name|Version|Release|Summary|License|BuildRequires):\s"),
        ("Ruby", r"Gem::Specification|^[ \t]*Pod::Spec"),
    ],
    ".p": [
        ("Gnuplot", r"^[ \t]*(set|plot|splot|replot)\s"),
        ("OpenEdge ABL", r"(?i)\b(DEFINE\s+(VARIABLE|TEMP-TABLE|BUFFER)|FOR\s+EACH|END\.)"),
    ],
    ".b": [
        ("Limbo", r"^[ \t]*implement\s+\w+\s*;|^include\s+\"\w+\.m\"\s*;"),
        ("Brainfuck", r"\A[\s\[\]<>+\-.,]+\Z"),
    ],
    ".cbl": [
        ("COBOLFree", r"(?i)>>\s*SOURCE\s+FORMAT\s+(IS\s+)?FREE|\A\s{0,3}(IDENTIFICATION|ID)\s+DIVISION"),
    ],
    ".i": [
        ("SWIG", r"^[ \t]*%(module|include|{|typemap|inline)\b"),
    ],
    ".gd": [
        ("GAP", r"^[ \t]*(DeclareOperation|DeclareGlobalFunction|DeclareAttribute|DeclareProperty|BindGlobal)\("),
    ],
    ".es": [
        ("Erlang", r"^[ \t]*-(module|export|define|record)\(|^#!.*escript"),
    ],
    ".fx": [
        # Linguist's FLUX (concurrent-server flow language, the "Flux" of the 338): node signatures
        # `Name (args) => (results);`, `source A => B;`, `atomic A:{lock};`, dispatch `A:[x, _] = B -> C;`.
        ("Flux", r"^[ \t]*source\s+\w+\s*=>\s*\w+\s*;|^[ \t]*atomic\s+\w+\s*:\s*\{|\)\s*=>\s*\([^)]*\)\s*;|^\w+\s*:\s*\[[\w, ]*\]\s*="),
        # DirectX effect files: techniques/passes, shader-model compile targets, HLSL vector types, semantics.
        ("HLSL", r"^[ \t]*(technique\d*|pass)\s+\w+|\bcompile\s+[pvgch]s_\d|\b(float|half|int|uint)[234](x[234])?\b|"
                 r"\b(sampler(2D|3D|CUBE|_state)?|Texture(1D|2D|3D|Cube)|cbuffer|SamplerState)\b|:\s*(SV_\w+|POSITION\d?|TEXCOORD\d|COLOR\d?|NORMAL\d?)\b"),
    ],
    ".cake": [
        ("CoffeeScript", r"^[ \t]*task\s+['\"]|\s->\s*$"),
    ],
    ".g": [
        ("G-Code", r"(?m)^[ \t]*[GM]\d+\b"),
    ],
    ".matlab": [
        ("Octave", r"^[ \t]*(endfunction|endif|end_try_catch)\b|^[ \t]*#"),
    ],
    ".prg": [
        ("FoxPro", r"(?i)^[ \t]*(define\s+class|enddefine|lparameters|thisform|local\s+\w+\s+as\s+\w+)\b|&&"),
        ("XBase", r"(?i)^[ \t]*#include\s+\"\w+\.ch\"|^[ \t]*(function|procedure)\s+\w+\s*\(|\breturn\s+nil\b|:="),
    ],
    ".f": [
        ("Fortran", r"(?i)^[ \t]*(module|program|subroutine|function)\s+\w+.*\n(\s.*\n)*?\s*implicit\s+none|^\s{0,4}\S.*::"),
        ("Fortran Fixed Form", r"(?i)^[cC*!]|^      \S|^     \S"),
    ],
    ".for": [
        ("Fortran Fixed Form", r"(?i)^[cC*]|^      \S"),
    ],
    ".pp": [
        ("Pascal", r"(?i)^[ \t]*(unit|program|uses|interface|implementation)\b|\bbegin\b[\s\S]*\bend\."),
        ("Puppet", r"^[ \t]*(class|define|node)\s+[\w:]+\s*[({]|=>\s*|\$\w+\s*="),
    ],
    ".cgi": [
        ("Perl", r"^#!.*\bperl\b|^[ \t]*use\s+(strict|CGI)\b"),
        ("Python", r"^#!.*\bpython|^[ \t]*(import|from)\s+\w+"),
        ("Shell", r"^#!.*\b(ba|z|k)?sh\b"),
    ],
    ".l": [
        ("Lex", r"^%%\s*$|^%\{"),
        ("Common Lisp", r"^[ \t]*\((defun|defmacro|defvar|in-package|defpackage)\b"),
        ("PicoLisp", r"^[ \t]*\((de|class)\s"),
        ("Groff", r"^\.(TH|SH|PP|B|I)\b"),
    ],
    ".ml": [
        ("Standard ML", r"^[ \t]*(structure|signature|functor)\s+\w+\s*[:=]|\bfun\s+\w+.*=|\bval\s+\w+\s*:"),
        ("OCaml", r"^[ \t]*(let|open|module|type)\b"),
    ],
    ".sc": [
        ("SuperCollider", r"\bSynthDef\s*\(|\b(SinOsc|Pbind|Server)\.\w+|^[ \t]*~\w+\s*="),
        ("Scala", r"^[ \t]*(import|object|val|def|case\s+class)\b"),
    ],
    ".cl": [
        ("OpenCL", r"__kernel|\bkernel\s+void\b|__global\b|get_global_id\s*\("),
        ("Common Lisp", r"^[ \t]*\((defun|defmacro|defvar|in-package|defpackage)\b"),
    ],
    ".mod": [
        ("Modula-2", r"^[ \t]*(IMPLEMENTATION\s+|DEFINITION\s+)?MODULE\s+\w+\s*;"),
        ("AMPL", r"^[ \t]*(param|var|set|subject\s+to|minimize|maximize)\s"),
        ("Zimpl", r"^[ \t]*(param|var|set|subto|minimize|maximize)\s+\w+.*:="),
    ],
    ".k": [
        ("KRL", r"^[ \t]*ruleset\s+[\w.]+\s*\{"),
    ],
    ".ms": [
        ("Groff", r"^\.(TL|AU|NH|SH|PP|LP|IP|TH)\b"),
        ("GAS", r"^[ \t]*\.(text|data|globl|section)\b"),
    ],
    ".fs": [
        ("GLSL", r"^[ \t]*#version\s+\d+|\bgl_FragColor\b|\buniform\s+\w+|\bvoid\s+main\s*\("),
        ("F#", r"^[ \t]*(open|module|namespace|let|type)\s"),
    ],
    ".html": [
        ("HTML Django", r"\{%\s*(extends|block|load|endblock|for|endfor|if|endif|url|csrf_token)\b"),
    ],
    ".gs": [
        ("GLSL", r"^[ \t]*#version\s+\d+|\bgl_\w+|\blayout\s*\("),
        ("JavaScript", r"\bfunction\s+\w+\s*\(|\bvar\s+\w+\s*=|\bSpreadsheetApp\b"),
        ("Gosu", r"^[ \t]*(uses|package)\s+[\w.]+|\bclass\s+\w+\s*\{"),
    ],
    ".bb": [
        ("BitBake", r"^[ \t]*(SRC_URI|DEPENDS|inherit|LICENSE|SUMMARY|DESCRIPTION)\b|^[ \t]*do_\w+\s*\(\)"),
        ("Clojure", r"^[ \t]*\((ns|defn|def|require)\b"),
        ("BlitzBasic", r"(?i)^[ \t]*(Graphics|Function|Global|Local|EndIf|Wend)\b"),
    ],
    ".php": [
        ("Hack", r"^<\?hh\b"),
    ],
    ".j": [
        ("Jasmin", r"^[ \t]*\.(class|method|super|limit)\b"),
        ("Objective-J", r"^[ \t]*@(import|implementation)\b"),
    ],
    ".st": [
        ("StringTemplate", r"\$\w+\$|<\w+>|group\s+\w+;"),
    ],
    ".mc": [
        ("Mason", r"<%(args|init|perl|once|method|def)>|<&\s"),
        ("Monkey", r"(?i)^[ \t]*(Strict|Import|Function|Class)\b"),
    ],
    ".n": [
        ("Groff", r"^\.(TH|SH|PP|B|I|nr|de)\b"),
    ],
    ".q": [
        ("HiveQL", r"(?i)^[ \t]*(SELECT|CREATE|INSERT|DROP)\s"),
    ],
    ".pro": [
        ("Prolog", r"^[ \t]*:-\s*\w+|^\w+(\([^)]*\))?\s*:-"),
        ("IGOR Pro", r"(?i)^[ \t]*#pragma\s+rtGlobals|^[ \t]*(Function|Macro|EndMacro|End)\b"),
        ("QMake", r"^[ \t]*(QT|SOURCES|HEADERS|TEMPLATE|CONFIG|TARGET)\s*[+\-]?="),
        ("IDL", r"(?i)^[ \t]*(pro|function)\s+\w+\s*,|^[ \t]*end\s*$"),
    ],
}
