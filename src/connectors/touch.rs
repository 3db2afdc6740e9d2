//! What a rendered action touches, as the trust layer checks it against a persona's
//! scopes: each connector lists its [`Touch`]es ([`super::Connector::touches`]), so
//! the persona check names no connector.

/// One place an action reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// An HTTP request: its (upper-case) method and absolute URL.
    Http { method: String, url: String },
    /// A program started (argv[0] as written; a `script` is `sh`), and the mode of
    /// the sandbox it runs in (a persona's `sandbox` is checked against it).
    Program {
        program: String,
        sandbox: super::confine::SandboxMode,
    },
    /// A `file` step's root (absolute): the folder it writes beneath.
    FileRoot { root: String },
    /// A tool server's tool.
    Tool { server: String, tool: String },
    /// An email: its sender and every recipient (to, cc, bcc).
    Email { from: String, to: Vec<String> },
}
