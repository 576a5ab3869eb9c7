// The migrations are compiled into the binary (`sqlx::migrate!`); a new or changed one
// must rebuild it even when no Rust file changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
