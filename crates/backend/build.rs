//! Links the C++ standard library when RocksDB comes prebuilt (`ROCKSDB_LIB_DIR`, set by
//! `scripts/cargo.sh`): librocksdb-sys adds it only when it compiles the bundled sources.

fn main() {
    println!("cargo:rerun-if-env-changed=ROCKSDB_LIB_DIR");
    if std::env::var_os("ROCKSDB_LIB_DIR").is_some() {
        println!("cargo:rustc-link-lib=dylib=stdc++");
    }
}
