"""`photoforge install-desktop`: put PhotoForge in the desktop's application menu.

Copies the .desktop entry, the AppStream metainfo and the icons into the XDG data dirs
(`--user`: ~/.local/share; default /usr/local/share; `--prefix DIR`: DIR/share), with
Exec pointing at the executable that is running now: the frozen app's binary, the
`photoforge` script of this environment, or this Python with `-m photoforge`.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from photoforge.app.resources import resources_dir

DESKTOP_FILE = "photoforge.desktop"
METAINFO_FILE = "io.photoforge.PhotoForge.metainfo.xml"
ICON_NAME = "photoforge"


class DesktopInstallError(RuntimeError):
    pass


def current_command() -> list[str]:
    """The command that starts this PhotoForge (absolute paths)."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "photoforge" and script.is_file():
        return [str(script.resolve())]
    found = shutil.which("photoforge", path=str(Path(sys.executable).parent))
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).resolve()), "-m", "photoforge"]


def _desktop_quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec asks."""
    arg = arg.replace("%", "%%")  # field codes (%f) are the launcher's
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    # quoting escapes " ` $ \ with a backslash; the file's string escaping then doubles each one
    escaped = "".join("\\\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry(template: str, command: list[str]) -> str:
    """The .desktop text with Exec and TryExec set to `command`."""
    exec_line = " ".join(_desktop_quote(a) for a in command) + " gui %f"
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_line}"
        elif line.startswith("TryExec="):
            line = f"TryExec={command[0]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def share_dir(*, user: bool, prefix: str | os.PathLike[str] | None) -> Path:
    if prefix is not None:
        return Path(prefix) / "share"
    if user:
        return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return Path("/usr/local/share")


def targets(share: Path) -> dict[str, Path]:
    """Resource file (relative to resources/) → where it is installed."""
    return {
        DESKTOP_FILE: share / "applications" / DESKTOP_FILE,
        METAINFO_FILE: share / "metainfo" / METAINFO_FILE,
        "icons/photoforge.svg": share / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
        "icons/photoforge-256.png": share / "icons" / "hicolor" / "256x256" / "apps" / f"{ICON_NAME}.png",
    }


def install(*, user: bool = False, prefix: str | os.PathLike[str] | None = None,
            command: list[str] | None = None, refresh: bool = True) -> list[Path]:
    """Install the desktop files; return the paths written."""
    source = resources_dir()
    if source is None:
        raise DesktopInstallError("the desktop files are not part of this installation "
                                  "(run from a source checkout or the built app)")
    share = share_dir(user=user, prefix=prefix)
    command = command or current_command()
    written = []
    try:
        for name, target in targets(share).items():
            target.parent.mkdir(parents=True, exist_ok=True)
            if name == DESKTOP_FILE:
                target.write_text(desktop_entry((source / name).read_text(encoding="utf-8"), command),
                                  encoding="utf-8")
            else:
                shutil.copyfile(source / name, target)
            written.append(target)
    except OSError as error:
        raise DesktopInstallError(f"cannot write to {share}: {error.strerror or error}"
                                  + ("" if user or prefix else " (try --user)")) from None
    if refresh:
        _refresh(share)
    return written


def uninstall(*, user: bool = False, prefix: str | os.PathLike[str] | None = None) -> list[Path]:
    removed = []
    share = share_dir(user=user, prefix=prefix)
    for target in targets(share).values():
        try:
            target.unlink()
            removed.append(target)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise DesktopInstallError(f"cannot remove {target}: {error.strerror or error}") from None
    _refresh(share)
    return removed


def _refresh(share: Path) -> None:
    """Let menus and icon themes notice (best effort: these tools are optional)."""
    for tool, arg in (("update-desktop-database", share / "applications"),
                      ("gtk-update-icon-cache", share / "icons" / "hicolor")):
        exe = shutil.which(tool)
        if exe and arg.is_dir():
            extra = ["-q"] if tool == "update-desktop-database" else ["-q", "-t", "-f"]
            subprocess.run([exe, *extra, str(arg)], capture_output=True, check=False)


def main(args) -> int:
    try:
        if args.remove:
            paths = uninstall(user=args.user, prefix=args.prefix)
            print("removed:" if paths else "nothing to remove")
        else:
            paths = install(user=args.user, prefix=args.prefix)
            print(f"installed (Exec: {shlex.join(current_command())} gui):")
    except DesktopInstallError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"  {path}")
    return 0
