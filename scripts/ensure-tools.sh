# Sourced by scripts/try.sh and scripts/test.sh: installs what a fresh Debian/Ubuntu machine
# lacks. Each step is skipped when the tool is already there.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# A C compiler (zstd is C) and the Rust toolchain (via rustup when cargo is missing).
need_rust() {
    command -v cc >/dev/null || apt_install build-essential
    command -v curl >/dev/null || apt_install curl ca-certificates
    if ! command -v cargo >/dev/null; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            echo "installing Rust with rustup" >&2
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
            export PATH="$HOME/.cargo/bin:$PATH"
        fi
    fi
}

# Erlang/OTP and Elixir from the distribution (the recorder's NIF and Mix project need them).
need_erlang() {
    if ! command -v erl >/dev/null || ! command -v elixir >/dev/null \
        || ! [ -d /usr/lib/erlang/usr/include ]; then
        echo "installing Erlang/OTP and Elixir from the distribution's packages" >&2
        apt_install erlang-nox erlang-dev elixir
    fi
}

# Build artifacts outside the clone, so later runs (and CI) are incremental.
#
# The cache is shared by every checkout on the machine. Cargo decides what to rebuild by file
# times, so a build made from a newer checkout elsewhere looks fresh here while its tests
# name that checkout's paths (`env!("CARGO_MANIFEST_DIR")`): when the checkout changes, this
# one's sources are touched. Cargo never collects old artifacts, so the default cache grown
# past SCOPE_CACHE_MAX_GIB (default 15) is emptied (the next build is a cold one, ~6 min);
# a CARGO_TARGET_DIR of the user's own is never removed.
use_shared_target_dir() {
    local default="$HOME/.cache/elixir-scope/target"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$default}"
    mkdir -p "$CARGO_TARGET_DIR"
    local max_kib=$(( ${SCOPE_CACHE_MAX_GIB:-15} * 1024 * 1024 ))
    local used_kib
    used_kib=$(du -sk "$CARGO_TARGET_DIR" | cut -f1)
    if [ "$CARGO_TARGET_DIR" = "$default" ] && [ "$used_kib" -gt "$max_kib" ]; then
        echo "build cache $CARGO_TARGET_DIR holds $(( used_kib / 1024 / 1024 )) GiB: cleaning it" >&2
        rm -rf "$CARGO_TARGET_DIR"
        mkdir -p "$CARGO_TARGET_DIR"
    fi
    local mark="$CARGO_TARGET_DIR/.checkout"
    if [ "$(cat "$mark" 2>/dev/null)" != "$PWD" ]; then
        find format recorder/src analyze cli tests \( -name '*.rs' -o -name Cargo.toml \) \
            -exec touch {} +
        touch Cargo.toml
        echo "$PWD" >"$mark"
    fi
}

# pyarrow and DuckDB (from PyPI, in a venv beside the build cache) for the Parquet interop
# test; sets SCOPE_PY to its python.
need_python_interop() {
    command -v python3 >/dev/null || apt_install python3
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    local venv="$HOME/.cache/elixir-scope/venv"
    if ! "$venv/bin/python" -c 'import pyarrow, duckdb' 2>/dev/null; then
        echo "installing pyarrow and duckdb from PyPI into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q pyarrow duckdb
    fi
    export SCOPE_PY="$venv/bin/python"
}

# A headless browser (Debian's chromium) to render the HTML report in a test; sets
# SCOPE_CHROMIUM.
need_chromium() {
    if [ -z "${SCOPE_CHROMIUM:-}" ]; then
        if ! command -v chromium >/dev/null; then
            echo "installing chromium (headless browser for the HTML report test)" >&2
            apt_install chromium
        fi
        SCOPE_CHROMIUM="$(command -v chromium)"
    fi
    export SCOPE_CHROMIUM
}
