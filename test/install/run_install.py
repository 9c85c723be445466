#!/usr/bin/env python3
"""Installs this build of katachi into a temporary folder and builds programs against that copy.

    run_install.py BUILD_DIR SOURCE_DIR COMPILER...

`meson install --destdir` puts the headers, libkatachi and katachi.pc under a temporary root. A
copy of katachi.pc whose prefix points into that root stands in for the installed one (the file
itself names the configured prefix, /usr/local by default). Then examples/own_program/app.cpp is
built twice, as a user would: `c++ -std=c++20 app.cpp $(pkg-config --cflags --libs katachi)`, and
as a Meson project whose dependency('katachi') finds katachi.pc; both programs must train and
predict every class. A small eager program checks that the installed libkatachi links.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EAGER_PROGRAM = r"""
#include <cstdio>
#include <katachi/eager.hpp>
#include <vector>

int main() {
    const auto t = katachi::eager::tensor::from(std::vector<float>{1, 2, 3, 4}, {2, 2});
    std::printf("sum %g\n", static_cast<double>(katachi::eager::sum(t * t).item()));
}
"""


def run(cmd, env=None, cwd=None):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, cmd))}\n{done.stdout}{done.stderr}")
    return done.stdout


def check_app_output(out, how):
    loss = re.search(r"loss ([0-9.]+) -> ([0-9.]+)", out)
    if not loss or float(loss.group(2)) >= float(loss.group(1)):
        sys.exit(f"{how}: the loss did not fall:\n{out}")
    if "predicted: 0 0 0 1 1 1 2 2 2" not in out:
        sys.exit(f"{how}: wrong predictions:\n{out}")
    print(f"{how}: {' / '.join(out.strip().splitlines())}")


def main():
    build, source = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    meson = shutil.which("meson") or sys.exit("meson is not on PATH")
    cxx = sys.argv[3:] or ["c++"]  # the build's compiler command, so that libkatachi.a links
    with tempfile.TemporaryDirectory(prefix="katachi_install_") as tmp:
        tmp = Path(tmp)
        root = tmp / "root"
        run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", root])

        installed_pc = sorted(root.rglob("pkgconfig/katachi.pc"))
        if len(installed_pc) != 1:
            sys.exit(f"expected one installed katachi.pc, found {installed_pc}")
        text = installed_pc[0].read_text()
        prefix = re.search(r"^prefix=(.*)$", text, re.M).group(1)
        pc_dir = tmp / "pkgconfig"
        pc_dir.mkdir()
        (pc_dir / "katachi.pc").write_text(
            re.sub(r"^prefix=.*$", lambda _: f"prefix={root}{prefix}", text, count=1, flags=re.M))
        for must in ("include/katachi/graph.hpp", "include/katachi/io/safetensors/header.hpp",
                     "include/katachi/io/idx/fashion_mnist.hpp"):
            if not (root / prefix.lstrip("/") / must).is_file():
                sys.exit(f"{must} is not installed under {root}{prefix}")
        if not list(root.rglob("libkatachi.a")):
            sys.exit("libkatachi.a is not installed")

        env = dict(os.environ, PKG_CONFIG_PATH=str(pc_dir))
        flags = run(["pkg-config", "--cflags", "--libs", "katachi"], env=env).split()
        print("pkg-config --cflags --libs katachi:", " ".join(flags))
        for must in ("-lkatachi", "-lopenblas", "-lz", f"-I{root}{prefix}/include"):
            if must not in flags:
                sys.exit(f"{must} is missing from pkg-config's flags")
        if any(f.startswith("-std") for f in flags):
            sys.exit("katachi.pc must leave the language standard to its users")

        app = source / "examples" / "own_program" / "app.cpp"
        run([*cxx, "-std=c++20", "-O1", app, *flags, "-o", tmp / "app"])
        check_app_output(run([tmp / "app"]), "c++ app.cpp $(pkg-config ...)")

        eager = tmp / "eager.cpp"
        eager.write_text(EAGER_PROGRAM)
        run([*cxx, "-std=c++20", "-O1", eager, *flags, "-o", tmp / "eager"])
        if run([tmp / "eager"]).strip() != "sum 30":
            sys.exit("the eager program linked against the installed libkatachi computed a wrong sum")
        print("eager program against the installed libkatachi: sum 30")

        app_build = tmp / "app-build"
        env["CXX"] = " ".join(cxx)
        run([meson, "setup", app_build, source / "examples" / "own_program", "-Doptimization=1"], env=env)
        run([meson, "compile", "-C", app_build], env=env)
        check_app_output(run([app_build / "app"]), "meson project with dependency('katachi')")


if __name__ == "__main__":
    main()
