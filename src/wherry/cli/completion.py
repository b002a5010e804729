"""`wherry generate-shell-completion bash|zsh|fish`: completion scripts made from the parser.

The scripts are generated from the same argparse tree the CLI parses with, so every
command and option (including ones added later) completes without maintenance. They are
static: completing a word never runs wherry (which would cost a Python start-up per
keypress). Options with choices complete their choices, other option values and
positional arguments complete file names.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cli.context import Context

SHELLS = ("bash", "zsh", "fish")

EXAMPLES = """\
examples:
  wherry generate-shell-completion bash >> ~/.bashrc    # or eval "$(...)"
  wherry generate-shell-completion zsh > ~/.zfunc/_wherry
  wherry generate-shell-completion fish > ~/.config/fish/completions/wherry.fish
"""


def register(name: str, parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from wherry.cli.parser import build_parser

    parser, _pip = build_parser(None)
    ctx.printer.result(render(args.shell, command_tree(parser)).rstrip("\n"))
    return 0


class OptionInfo:
    """One option of a command: its flags, whether it takes a value, its choices."""

    def __init__(self, flags: list[str], help: str, takes_value: bool,
                 choices: list[str]) -> None:
        self.flags = flags
        self.help = help
        self.takes_value = takes_value
        self.choices = choices


class CommandInfo:
    """A command path (`("pip", "install")`): its help, sub-commands and options."""

    def __init__(self, path: tuple[str, ...], help: str) -> None:
        self.path = path
        self.help = help
        self.subcommands: dict[str, str] = {}
        self.options: list[OptionInfo] = []


def command_tree(parser: argparse.ArgumentParser) -> list[CommandInfo]:
    """Every command of `parser` (the root is the empty path), depth first."""
    found: list[CommandInfo] = []

    def walk(current: argparse.ArgumentParser, path: tuple[str, ...], help: str) -> None:
        info = CommandInfo(path, help)
        found.append(info)
        children: list[tuple[str, argparse.ArgumentParser, str]] = []
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help or "" for a in action._choices_actions}
                for name, sub in action.choices.items():
                    info.subcommands[name] = helps.get(name, "")
                    children.append((name, sub, helps.get(name, "")))
            elif action.option_strings and action.help is not argparse.SUPPRESS:
                info.options.append(OptionInfo(
                    list(action.option_strings), _plain(action.help or ""),
                    action.nargs != 0, [str(c) for c in action.choices or ()]))
        for name, sub, sub_help in children:
            walk(sub, (*path, name), sub_help)

    walk(parser, (), parser.description or "")
    return found


def _plain(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def render(shell: str, tree: list[CommandInfo]) -> str:
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](tree)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _case(function: str, arms: dict[str, str], argument: str = '"$1"') -> str:
    lines = [f"{function}() {{", f"    case {argument} in"]
    for key, value in arms.items():
        lines.append(f"        {_quote(key)}) echo {_quote(value)} ;;")
    lines += ["    esac", "}"]
    return "\n".join(lines)


def _tables(tree: list[CommandInfo]) -> str:
    """Shell functions shared by bash and zsh: sub-commands, options, valued options and
    choices per command path (`case` statements work in both shells)."""
    subs = {" ".join(c.path): " ".join(c.subcommands) for c in tree if c.subcommands}
    opts = {" ".join(c.path): " ".join(f for o in c.options for f in o.flags) for c in tree}
    valued = {" ".join(c.path): " ".join(f for o in c.options if o.takes_value
                                         for f in o.flags) for c in tree}
    choices = {f"{' '.join(c.path)}|{flag}": " ".join(o.choices)
               for c in tree for o in c.options if o.choices for flag in o.flags}
    return "\n\n".join([
        _case("_wherry_subcommands", subs),
        _case("_wherry_options", opts),
        _case("_wherry_valued", valued),
        _case("_wherry_choices", choices, '"$1|$2"'),
    ])


_WALK = """\
    # The command path so far: words that name a sub-command, skipping option values.
    cmd=""
    for ((i = {first}; i < {current}; i++)); do
        w="${{{words}[i]}}"
        [[ "$w" == -* ]] && continue
        [[ " $(_wherry_valued "$cmd") " == *" ${{{words}[i-1]}} "* ]] && continue
        [[ " $(_wherry_subcommands "$cmd") " == *" $w "* ]] && cmd="${{cmd:+$cmd }}$w"
    done"""


def _bash(tree: list[CommandInfo]) -> str:
    return f"""\
# bash completion for wherry (`wherry generate-shell-completion bash`)
{_tables(tree)}

_wherry() {{
    local cur prev cmd w i choices subs
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
{_WALK.format(first=1, current="COMP_CWORD", words="COMP_WORDS")}
    if [[ " $(_wherry_valued "$cmd") " == *" $prev "* ]]; then
        choices="$(_wherry_choices "$cmd" "$prev")"
        if [[ -n "$choices" ]]; then
            COMPREPLY=($(compgen -W "$choices" -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$(_wherry_options "$cmd")" -- "$cur"))
        return 0
    fi
    subs="$(_wherry_subcommands "$cmd")"
    if [[ -n "$subs" ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}}

complete -o filenames -F _wherry wherry
"""


def _zsh(tree: list[CommandInfo]) -> str:
    return f"""\
#compdef wherry
# zsh completion for wherry (`wherry generate-shell-completion zsh`)
{_tables(tree)}

_wherry() {{
    local cur prev cmd w i choices subs
    cur="${{words[CURRENT]}}"
    prev="${{words[CURRENT-1]}}"
{_WALK.format(first=2, current="CURRENT", words="words")}
    if [[ " $(_wherry_valued "$cmd") " == *" $prev "* ]]; then
        choices="$(_wherry_choices "$cmd" "$prev")"
        if [[ -n "$choices" ]]; then
            compadd -- ${{=choices}}
        else
            _files
        fi
        return
    fi
    if [[ "$cur" == -* ]]; then
        compadd -- ${{=$(_wherry_options "$cmd")}}
        return
    fi
    subs="$(_wherry_subcommands "$cmd")"
    if [[ -n "$subs" ]]; then
        compadd -- ${{=subs}}
    else
        _files
    fi
}}

if [[ "$funcstack[1]" == "_wherry" ]]; then
    _wherry "$@"
else
    compdef _wherry wherry
fi
"""


def _fish(tree: list[CommandInfo]) -> str:
    lines = ["# fish completion for wherry (`wherry generate-shell-completion fish`)",
             "complete -c wherry -f"]
    by_path = {c.path: c for c in tree}

    def condition(path: tuple[str, ...]) -> str:
        if not path:
            return "__fish_use_subcommand"
        parts = [f"__fish_seen_subcommand_from {word}" for word in path]
        parent = by_path.get(path)
        if parent is not None and parent.subcommands:
            parts.append("not __fish_seen_subcommand_from " + " ".join(parent.subcommands))
        return "; and ".join(parts)

    for command in tree:
        for name, help_text in command.subcommands.items():
            lines.append(f"complete -c wherry -n {_quote(condition(command.path))} "
                         f"-a {_quote(name)} -d {_quote(_plain(help_text))}")
        seen = " and ".join(f"__fish_seen_subcommand_from {w}" for w in command.path)
        option_condition = seen.replace(" and ", "; and ") if command.path else ""
        for option in command.options:
            words = ["complete -c wherry"]
            if option_condition:
                words.append(f"-n {_quote(option_condition)}")
            for flag in option.flags:
                if flag.startswith("--"):
                    words.append(f"-l {_quote(flag[2:])}")
                elif len(flag) == 2:
                    words.append(f"-s {_quote(flag[1:])}")
                else:
                    words.append(f"-o {_quote(flag[1:])}")
            if option.takes_value and option.choices:
                words.append(f"-x -a {_quote(' '.join(option.choices))}")  # choices only
            elif option.takes_value:
                words.append("-r -F")  # a value: complete file names
            words.append(f"-d {_quote(option.help[:80])}")
            lines.append(" ".join(words))
    return "\n".join(lines) + "\n"
