"""`routesh completion bash|zsh|fish`: a shell completion script (commands, options, route and profile names)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]
NAME_KINDS = ("routes", "profiles", "models", "providers")


def add_parser(p: argparse.ArgumentParser) -> Handler:
    """Print a completion script."""
    p.description = ("Print a completion script. bash: eval \"$(routesh completion bash)\" in ~/.bashrc; zsh: the "
                     "same in ~/.zshrc; fish: routesh completion fish > ~/.config/fish/completions/routesh.fish")
    p.add_argument("shell", nargs="?", choices=("bash", "zsh", "fish"))
    p.add_argument("--names", choices=NAME_KINDS, help=argparse.SUPPRESS)  # used by the scripts while completing

    def run(args: argparse.Namespace) -> int:
        if args.names:
            print("\n".join(names(args.names, args.config, args.profile)))
            return 0
        if args.shell is None:
            from ..core.errors import UserError

            raise UserError("name the shell: routesh completion bash|zsh|fish")
        words = command_words()
        print(FISH(words) if args.shell == "fish" else BASH(words, zsh=args.shell == "zsh"))
        return 0

    return run


def names(kind: str, config: str | None, profile: str | None) -> list[str]:
    """Route, profile, model or provider names from the config in effect; none when it cannot be read."""
    from ..core.context import build
    from ..core.errors import UserError

    try:
        ctx = build(config, profile)
    except UserError:
        return []
    if kind == "models":
        return [n for m in ctx.catalog.models() for n in (m.id, *m.aliases)]
    return list({"routes": ctx.config.routes, "profiles": ctx.config.profiles,
                 "providers": ctx.config.providers}[kind])


def command_words() -> dict[str, list[str]]:
    """'' → the top-level options; each command → its options and actions (nested actions flattened)."""
    from .cli import SUBCOMMANDS, load as _load
    from .parsers import _top_parser

    out = {"": _options(_top_parser())}
    for sub, spec in SUBCOMMANDS.items():
        p = argparse.ArgumentParser(prog=f"routesh {sub}", add_help=True)
        _load(spec)(p)
        out[sub] = list(dict.fromkeys([*_options(p), "--config", "--profile"]))
    return out


def _options(p: argparse.ArgumentParser) -> list[str]:
    words: list[str] = []
    for action in p._actions:
        if action.help == argparse.SUPPRESS:
            continue
        words += [o for o in action.option_strings if o.startswith("--") or len(action.option_strings) == 1]
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.append(name)
                words += _options(sub)
        elif not action.option_strings and action.choices:
            words += [str(c) for c in action.choices]
    return list(dict.fromkeys(words))


def BASH(words: dict[str, list[str]], *, zsh: bool = False) -> str:  # noqa: N802 - a template
    """The bash script (zsh runs it through bashcompinit)."""
    cases = "\n".join(f"        {sub}) opts=\"{' '.join(w)}\" ;;" for sub, w in words.items() if sub)
    shell = "zsh" if zsh else "bash"
    head = "autoload -U +X bashcompinit && bashcompinit\n" if zsh else ""
    return f"""# routesh completion for {shell}: eval "$(routesh completion {shell})"
{head}_routesh_names() {{ routesh completion --names "$1" 2>/dev/null; }}
_routesh() {{
    local cur prev sub="" opts w
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case " {' '.join(s for s in words if s)} " in *" $w "*) sub="$w"; break ;; esac
    done
    case "$prev" in
        --route) COMPREPLY=($(compgen -W "$(_routesh_names routes)" -- "$cur")); return ;;
        --profile) COMPREPLY=($(compgen -W "$(_routesh_names profiles)" -- "$cur")); return ;;
        -m|--model) COMPREPLY=($(compgen -W "$(_routesh_names models)" -- "$cur")); return ;;
        -f|--file|--config|-o) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case "$sub" in
        "") opts="{' '.join(words[''])} {' '.join(s for s in words if s)}" ;;
{cases}
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _routesh routesh"""


def FISH(words: dict[str, list[str]]) -> str:  # noqa: N802 - a template
    """The fish script."""
    subs = " ".join(s for s in words if s)
    lines = ["# routesh completion for fish: routesh completion fish > ~/.config/fish/completions/routesh.fish",
             "complete -c routesh -f",
             f'complete -c routesh -n "not __fish_seen_subcommand_from {subs}" -a "{subs}"',
             "complete -c routesh -l route -x -a '(routesh completion --names routes 2>/dev/null)'",
             "complete -c routesh -l profile -x -a '(routesh completion --names profiles 2>/dev/null)'",
             "complete -c routesh -s m -l model -x -a '(routesh completion --names models 2>/dev/null)'",
             "complete -c routesh -s f -l file -r -F",
             "complete -c routesh -l config -r -F"]
    for sub, ws in words.items():
        cond = f'"not __fish_seen_subcommand_from {subs}"' if not sub else f'"__fish_seen_subcommand_from {sub}"'
        for w in ws:
            if w.startswith("--"):
                lines.append(f"complete -c routesh -n {cond} -l {w[2:]}")
            elif not w.startswith("-") and sub:
                lines.append(f"complete -c routesh -n {cond} -a {w}")
    return "\n".join(dict.fromkeys(lines))
