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
use_shared_target_dir() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/elixir-scope/target}"
    mkdir -p "$CARGO_TARGET_DIR"
}
