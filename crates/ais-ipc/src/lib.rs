//! The libqb IPC protocol, server and client side (being written).
