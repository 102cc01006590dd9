//! Error chains print each message once.

use zkml_ir::chain_message;

#[derive(Debug)]
struct Inner;
impl std::fmt::Display for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("2 colors asked")
    }
}
impl std::error::Error for Inner {}

/// Wraps `Inner`, printing it (as a typed error with `{0}` does) or not.
#[derive(Debug)]
struct Outer(Inner, bool);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.1 { write!(f, "partitioning: {}", self.0) } else { f.write_str("partitioning") }
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_source_already_printed_is_not_repeated() {
    assert_eq!(chain_message(&Outer(Inner, true)), "partitioning: 2 colors asked");
    assert_eq!(chain_message(&Outer(Inner, false)), "partitioning: 2 colors asked");
    assert_eq!(chain_message(&Inner), "2 colors asked");
}
