# The compile-time environment `cargo leptos build` (debug) gives the server crate.
# Sourced by scripts/test so `cargo test` reuses the same compiled dependencies instead
# of building everything a second time with different flags.
export RUSTFLAGS="--cfg erase_components${RUSTFLAGS:+ $RUSTFLAGS}"
export LEPTOS_OUTPUT_NAME=tollgate
