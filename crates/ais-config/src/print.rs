//! The printer: a [`Config`] back into corosync.conf text that [`crate::parse`] reads as
//! the same `Config`. Every value is written out, defaults included, so the text does not
//! depend on which defaults the reader applies; only `None` options are left out.

use std::fmt::Write;
use std::time::Duration;

use crate::config::{
    Account, Config, Interface, IpcType, LoggerSubsys, Node, ProcessPriority, TieBreaker,
};

impl Config {
    /// corosync.conf text for this configuration, tab-indented.
    ///
    /// Durations are written in whole milliseconds. A string is quoted when it has leading
    /// or trailing blanks or is itself quoted; a string holding `{` or a line break cannot
    /// be written in this syntax and will not read back.
    pub fn to_conf_string(&self) -> String {
        let mut out = Printer {
            text: String::new(),
            depth: 0,
        };
        out.line("# Written by ais-config; see corosync.conf(5).");
        self.print_totem(&mut out);
        out.open("nodelist");
        for node in &self.nodelist {
            print_node(&mut out, node);
        }
        out.close();
        self.print_quorum(&mut out);
        self.print_logging(&mut out);
        self.print_system(&mut out);
        if !self.uidgid.uids.is_empty() || !self.uidgid.gids.is_empty() {
            out.open("uidgid");
            for uid in &self.uidgid.uids {
                out.key("uid", account(uid));
            }
            for gid in &self.uidgid.gids {
                out.key("gid", account(gid));
            }
            out.close();
        }
        out.text
    }

    fn print_totem(&self, out: &mut Printer) {
        let t = &self.totem;
        out.open("totem");
        out.key("version", 2);
        out.opt("cluster_name", t.cluster_name.as_deref().map(quoted));
        out.opt("nodeid", t.nodeid);
        out.key("transport", t.transport);
        out.key("ip_version", t.ip_version);
        out.key("link_mode", t.link_mode);
        out.key("crypto_cipher", t.crypto_cipher);
        out.key("crypto_hash", t.crypto_hash);
        out.opt("keyfile", t.keyfile.as_deref().map(quoted));
        out.key("netmtu", t.netmtu);
        out.key("token", ms(t.token));
        out.key("token_coefficient", ms(t.token_coefficient));
        out.opt("token_retransmit", t.token_retransmit.map(ms));
        out.opt("hold", t.hold.map(ms));
        out.key(
            "token_retransmits_before_loss_const",
            t.token_retransmits_before_loss_const,
        );
        out.key("join", ms(t.join));
        out.key("send_join", ms(t.send_join));
        out.opt("consensus", t.consensus.map(ms));
        out.key("merge", ms(t.merge));
        out.key("downcheck", ms(t.downcheck));
        out.key("fail_recv_const", t.fail_recv_const);
        out.key("seqno_unchanged_const", t.seqno_unchanged_const);
        out.key("miss_count_const", t.miss_count_const);
        out.key("window_size", t.window_size);
        out.key("max_messages", t.max_messages);
        out.key("fail_fast", ms(t.fail_fast));
        for interface in &t.interfaces {
            print_interface(out, interface);
        }
        out.close();
    }

    fn print_quorum(&self, out: &mut Printer) {
        let q = &self.quorum;
        out.open("quorum");
        out.opt("provider", q.provider);
        out.opt("expected_votes", q.expected_votes);
        out.key("two_node", yes_no(q.two_node));
        out.key("wait_for_all", yes_no(q.wait_for_all));
        out.key("last_man_standing", yes_no(q.last_man_standing));
        out.key("last_man_standing_window", ms(q.last_man_standing_window));
        out.key("auto_tie_breaker", yes_no(q.auto_tie_breaker));
        let tie_breaker = match &q.auto_tie_breaker_node {
            TieBreaker::Lowest => "lowest".to_owned(),
            TieBreaker::Highest => "highest".to_owned(),
            TieBreaker::Nodes(ids) => ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "),
        };
        out.key("auto_tie_breaker_node", tie_breaker);
        out.key("allow_downscale", yes_no(q.allow_downscale));
        out.key("expected_votes_tracking", yes_no(q.expected_votes_tracking));
        out.opt("votes", q.votes);
        out.close();
    }

    fn print_logging(&self, out: &mut Printer) {
        let l = &self.logging;
        out.open("logging");
        out.key("to_stderr", yes_no(l.to_stderr));
        out.key("to_logfile", yes_no(l.to_logfile));
        out.opt("logfile", l.logfile.as_deref().map(quoted));
        out.key("to_syslog", yes_no(l.to_syslog));
        out.key("syslog_facility", l.syslog_facility);
        out.key("syslog_priority", l.syslog_priority);
        out.key("logfile_priority", l.logfile_priority);
        out.key("debug", l.debug);
        out.key("timestamp", l.timestamp);
        out.key("fileline", yes_no(l.fileline));
        out.key("function_name", yes_no(l.function_name));
        for subsys in &l.logger_subsys {
            print_subsys(out, subsys);
        }
        out.close();
    }

    fn print_system(&self, out: &mut Printer) {
        let s = &self.system;
        out.open("system");
        out.opt("state_dir", s.state_dir.as_deref().map(quoted));
        out.key("sched_rr", yes_no(s.sched_rr));
        out.opt(
            "priority",
            s.priority.map(|p| match p {
                ProcessPriority::Max => "max".to_owned(),
                ProcessPriority::Min => "min".to_owned(),
                ProcessPriority::Nice(nice) => nice.to_string(),
            }),
        );
        out.opt("ipc_prefix", s.ipc_prefix.as_deref().map(quoted));
        out.key(
            "qb_ipc_type",
            match s.ipc_type {
                IpcType::Shm => "native",
                IpcType::Socket => "socket",
            },
        );
        out.close();
    }
}

fn print_interface(out: &mut Printer, i: &Interface) {
    out.open("interface");
    out.key("linknumber", i.linknumber);
    out.opt("bindnetaddr", i.bindnetaddr);
    out.opt("mcastaddr", i.mcastaddr);
    out.key("mcastport", i.mcastport);
    out.key("ttl", i.ttl);
    out.opt("knet_link_priority", i.knet_link_priority);
    out.opt("knet_ping_interval", i.knet_ping_interval.map(ms));
    out.opt("knet_ping_timeout", i.knet_ping_timeout.map(ms));
    out.opt("knet_ping_precision", i.knet_ping_precision);
    out.opt("knet_pong_count", i.knet_pong_count);
    out.opt("knet_transport", i.knet_transport);
    out.close();
}

fn print_node(out: &mut Printer, node: &Node) {
    out.open("node");
    out.key("nodeid", node.nodeid);
    out.opt("name", node.name.as_deref().map(quoted));
    for (link, addr) in node.ring_addrs.iter().enumerate() {
        out.opt(&format!("ring{link}_addr"), addr.as_ref());
    }
    out.opt("quorum_votes", node.quorum_votes);
    out.close();
}

fn print_subsys(out: &mut Printer, s: &LoggerSubsys) {
    out.open("logger_subsys");
    out.key("subsys", quoted(&s.subsys));
    out.opt("to_stderr", s.to_stderr.map(yes_no));
    out.opt("to_logfile", s.to_logfile.map(yes_no));
    out.opt("logfile", s.logfile.as_deref().map(quoted));
    out.opt("to_syslog", s.to_syslog.map(yes_no));
    out.opt("syslog_facility", s.syslog_facility);
    out.opt("syslog_priority", s.syslog_priority);
    out.opt("logfile_priority", s.logfile_priority);
    out.opt("debug", s.debug);
    out.close();
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn account(a: &Account) -> String {
    match a {
        Account::Id(id) => id.to_string(),
        Account::Name(name) => name.clone(),
    }
}

/// The value as the lexer will read it back: quotes around it when the lexer would
/// otherwise trim it, strip its quotes or read it as empty.
fn quoted(value: &str) -> String {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\u{a0}');
    let trimmed = value.starts_with(blank) || value.ends_with(blank);
    let self_quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    if trimmed || self_quoted || value.is_empty() {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}

/// Indented lines of sections and keys.
struct Printer {
    text: String,
    depth: usize,
}

impl Printer {
    fn line(&mut self, line: &str) {
        for _ in 0..self.depth {
            self.text.push('\t');
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn open(&mut self, name: &str) {
        if self.depth == 0 {
            self.text.push('\n');
        }
        self.line(&format!("{name} {{"));
        self.depth += 1;
    }

    fn close(&mut self) {
        assert!(self.depth > 0, "closing a section that is not open");
        self.depth -= 1;
        self.line("}");
    }

    fn key(&mut self, key: &str, value: impl std::fmt::Display) {
        let mut line = String::new();
        let _ = write!(line, "{key}: {value}");
        self.line(&line);
    }

    fn opt(&mut self, key: &str, value: Option<impl std::fmt::Display>) {
        if let Some(value) = value {
            self.key(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn quoting_keeps_blanks_and_quotes() {
        assert_eq!(quoted("ais"), "ais");
        assert_eq!(quoted(" a "), "\" a \"");
        assert_eq!(quoted("\"x\""), "\"\"x\"\"");
        assert_eq!(quoted("a \"b\""), "a \"b\"");
    }

    #[test]
    fn the_default_prints_and_reads_back() {
        let config = crate::default_config();
        let text = config.to_conf_string();
        assert!(text.starts_with("# Written by ais-config"), "{text}");
        assert!(text.contains("\ttoken: 3000\n"), "{text}");
        assert_eq!(parse(&text, "printed.conf").map(|p| p.config), Ok(config));
    }
}
