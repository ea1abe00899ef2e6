"""What the editor shows on hover: a symbol's meaning in Markdown, built from the policy index.

A rule id shows its patient sentences, its source (title, section, public address), its interpretation
and a link to its place in the handbook; a case field its type, allowed values and wording; a definition
or parameter its expression and its value per period.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rxpolicy.language import ast
from rxpolicy.language.facts import FactRef
from rxpolicy.language.values import describe
from rxpolicy.language.source import SourceFile
from rxpolicy.language.types import Kind, Type
from rxpolicy.language.sources import SourceRegistry
from rxpolicy.tools.citations import published, resolve_citation
from rxpolicy.tools.lsp.index import Occurrence, PolicyIndex, SymbolKind

__all__ = ["hover_markdown"]

#: Rule id → the address of the rule in the handbook (None when no handbook address is configured).
HandbookLink = Callable[[str], str | None]


def hover_markdown(index: PolicyIndex, occurrence: Occurrence, registry: SourceRegistry | None,
                   handbook: HandbookLink) -> str:
    """The hover text of the symbol at an occurrence."""
    kind, name = occurrence.kind, occurrence.name
    if kind is SymbolKind.RULE:
        return _rule(index, name, registry, handbook)
    if kind is SymbolKind.FIELD:
        return _field(index, name)
    if kind is SymbolKind.DEFINITION:
        return _definition(index, name)
    if kind is SymbolKind.PARAMETER:
        return _parameter(index, name, registry)
    if kind is SymbolKind.DECISION:
        return _decision(index, name)
    return _layer(index, name)


def _text(index: PolicyIndex, node: ast.Expr) -> str:
    source: SourceFile | None = index.files.get(node.span.path)
    return " ".join(source.slice(node.span).split()) if source is not None else ""


def _citation_lines(citation: ast.Citation, registry: SourceRegistry | None) -> list[str]:
    cited = resolve_citation(citation, registry)
    title = f"[{cited.title}]({cited.address})" if cited.address else cited.title
    return [f"- {title}" + (f", {cited.section}" if cited.section else "")
            + (f" — {published(cited)}" if cited.publisher else "")
            + ("" if cited.known or cited.plain else " *(not a known source)*")]


def _rule(index: PolicyIndex, rule_id: str, registry: SourceRegistry | None, handbook: HandbookLink) -> str:
    items = index.item(SymbolKind.RULE, rule_id)
    if not items:
        return f"**rule** `{rule_id}`: no rule of this policy has this id"
    out: list[str] = []
    for item in items:
        if isinstance(item, ast.Table):
            layer = index.layer_of(item.span.path)
            out += [f"**table** `{item.id}` (layer {layer}): decides " + ", ".join(f"`{d}`" for d in item.decides),
                    "", "Rows, the first that applies decides: " + ", ".join(f"`{r.id}`" for r in item.rows)]
            continue
        assert isinstance(item, ast.Rule)
        layer = index.layer_of(item.span.path)
        head = f"**rule** `{item.id}` (layer {layer})"
        if item.validity is not None:
            head += f", in force {item.validity}"
        out += [head, ""]
        explains = {e.lang: e.text for e in item.explains}
        for lang in ("en", "nl"):
            if lang in explains:
                out.append(f"> {explains[lang]} *({lang})*")
                out.append(">")
        if out[-1] == ">":
            out.pop()
        decides = ", ".join(f"`{a.decision}`" for a in item.assignments)
        if decides:
            out += ["", f"Decides {decides}."]
        if item.exception_to:
            out.append("Exception to " + ", ".join(f"`{r.id}`" for r in item.exception_to) + ".")
        out += _source_and_interpretation(item, registry)
        out.append("")
    link = handbook(rule_id)
    if link:
        out.append(f"[In the policy handbook]({link})")
    return "\n".join(out).rstrip() + "\n"


def _default_text(default: object, typ: Type) -> str:
    if isinstance(default, FactRef):
        return f"the value of `{default.path}`"
    if default is None:
        return "unknown"
    if isinstance(default, bool):
        return "yes" if default else "no"
    if isinstance(default, tuple):
        return ", ".join(map(str, default)) or "none"
    return describe(default, typ)


def _field(index: PolicyIndex, path: str) -> str:
    spec = index.field(path)
    if spec is None:
        return f"`{path}`: not a case field"
    typ = spec.type
    head = f"**case field** `{path}`: {typ}"
    if spec.derived:
        head += f" (computed by `{spec.computed_by}` from " + ", ".join(f"`{a}`" for a in spec.arguments) + ")"
    out = [head + (f", declared in layer {spec.layer}" if spec.layer else ""), ""]
    if spec.meaning:
        # The meaning is written for docs/case-file.md; its links to anchors there lead nowhere in a hover.
        out += [re.sub(r"\[([^\]]*)\]\(#[^)]*\)", r"\1", spec.meaning), ""]
    if spec.leap_day_birthday is not None:
        out.append(f"A 29 February birthday counts on {spec.leap_day_birthday} in a year without 29 February.")
    if spec.required:
        out.append("Required in every case.")
    elif not spec.derived:
        out.append(f"Default: {_default_text(spec.default, spec.type)}.")
    if spec.at_least is not None:
        out.append(f"At least {spec.at_least}" + (f" ({spec.at_least_reason})" if spec.at_least_reason else "") + ".")
    if typ.kind in (Kind.ENUM, Kind.LIST):
        out += ["", "Allowed values" + (" (other texts are kept as written)" if spec.open_choice else "") + ":", ""]
        for code in typ.choices:
            en, nl = (index.schema.choice_words(typ.name, code, lang) for lang in ("en", "nl"))
            out.append(f"- `{code}`" + (f": {en} / {nl}" if en else ""))
    if spec.yes:
        out += ["", "Read as:", "", f"- yes: {spec.yes.get('en')} / *{spec.yes.get('nl')}*",
                f"- no: {spec.no.get('en')} / *{spec.no.get('nl')}*"]
    elif spec.noun:
        out += ["", f"Read as: {spec.noun.get('en')} / *{spec.noun.get('nl')}*"]
    return "\n".join(out) + "\n"


def _explains(explains: tuple[ast.Explain, ...]) -> list[str]:
    lines: list[str] = []
    for explain in explains:  # one quoted paragraph per language
        lines += [">"] if lines else []
        lines.append(f"> {explain.text} *({explain.lang})*")
    return lines


def _parameters_used(index: PolicyIndex, expr: ast.Expr) -> list[str]:
    out: list[str] = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and len(node.parts) == 1:
            for item in index.item(SymbolKind.PARAMETER, node.dotted):
                if isinstance(item, ast.Parameter):
                    out += [f"- `{item.name}`: " + "; ".join(_value_line(index, v) for v in item.values)]
    return list(dict.fromkeys(out))


def _value_line(index: PolicyIndex, value: ast.ParameterValue) -> str:
    period = f" in force {value.validity}" if value.validity is not None else " always"
    return f"{_text(index, value.expr)}{period}"


def _definition(index: PolicyIndex, name: str) -> str:
    items = [i for i in index.item(SymbolKind.DEFINITION, name) if isinstance(i, ast.Definition)]
    if not items:
        return f"`{name}`: not a definition of this policy"
    item = items[0]
    typ = index.checked.definitions[name].type if index.checked and name in index.checked.definitions else None
    out = [f"**definition** `{name}`" + (f": {typ}" if typ else "") + f" (layer {index.layer_of(item.span.path)})",
           "", "```rxpolicy", f"define {name} = {_text(index, item.expr)}", "```", ""]
    out += _explains(item.explains)
    used = _parameters_used(index, item.expr)
    if used:
        out += ["", "Amounts it uses, per period:", "", *used]
    return "\n".join(out).rstrip() + "\n"


def _parameter(index: PolicyIndex, name: str, registry: SourceRegistry | None) -> str:
    items = [i for i in index.item(SymbolKind.PARAMETER, name) if isinstance(i, ast.Parameter)]
    if not items:
        return f"`{name}`: not a parameter of this policy"
    item = items[0]
    out = [f"**parameter** `{name}`: {item.type.words}" + (", or not applicable" if item.type.nullable else "")
           + f" (layer {index.layer_of(item.span.path)})", "", *_explains(item.explains), "", "Value per period:", ""]
    for value in item.values:
        line = f"- {_value_line(index, value)}"
        if value.citations:
            line += f" (according to {'; '.join(resolve_citation(c, registry).text for c in value.citations)})"
        out.append(line)
    out += _source_and_interpretation(item, registry)
    return "\n".join(out).rstrip() + "\n"


def _decision(index: PolicyIndex, name: str) -> str:
    items = [i for i in index.item(SymbolKind.DECISION, name) if isinstance(i, ast.Decision)]
    if not items:
        return f"`{name}`: not a decision of this policy"
    item = items[0]
    deciding = [o.name for o in index.occurrences if o.declares and o.kind is SymbolKind.RULE
                and any(isinstance(i, ast.Rule) and name in {a.decision for a in i.assignments}
                        for i in index.item(SymbolKind.RULE, o.name))]
    out = [f"**decision** `{name}`: {item.type.words}" + (", or not applicable" if item.type.nullable else ""), "",
           *_explains(item.explains)]
    if deciding:
        out += ["", "Decided by " + ", ".join(f"`{r}`" for r in dict.fromkeys(deciding)) + "."]
    return "\n".join(out).rstrip() + "\n"


def _layer(index: PolicyIndex, name: str) -> str:
    for layer in index.sources.layers:
        if layer.name == name:
            files = ", ".join(f"`{f.source.path.rsplit('/', 1)[-1]}`" for f in layer.files)
            return f"**layer** `{name}` ({layer.kind.value}): {layer.title}\n\nFiles: {files}\n"
    return f"**layer** `{name}`\n"


def _source_and_interpretation(item: ast.Rule | ast.Parameter, registry: SourceRegistry | None) -> list[str]:
    """The **Source** section (each citation resolved through the registry) and the interpretation, if any."""
    out: list[str] = []
    if item.citations:
        out += ["", "**Source**", ""]
        for citation in item.citations:
            out += _citation_lines(citation, registry)
    if item.interpretation:
        out += ["", f"**Interpretation:** {item.interpretation}"]
    return out
