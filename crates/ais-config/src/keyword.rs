//! Values spelled as keywords (`transport: udpu`, `crypto_hash: sha256`): one enum each, with
//! the corosync spelling of every variant kept beside it, so the parser and the printer
//! cannot disagree. Spellings are case-sensitive, as corosync compares with `strcmp`.

/// Declares a keyword enum: `Variant = "spelling" | "alias"`. The first spelling is the one
/// printed; aliases are accepted when parsing.
macro_rules! keywords {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $kw:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The spelling corosync.conf uses for this value.
            pub const fn keyword(self) -> &'static str {
                match self {
                    $(Self::$variant => $kw),+
                }
            }

            /// The value spelled `text`, aliases included.
            pub fn from_keyword(text: &str) -> Option<Self> {
                match text {
                    $($kw $(| $alias)* => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.keyword())
            }
        }
    };
}

keywords! {
    /// `totem.transport`. Corosync's default is knet; ours is udpu.
    #[derive(Default)]
    pub enum Transport {
        /// UDP unicast to every node of the nodelist (our default).
        #[default]
        Udpu = "udpu",
        /// UDP multicast (`mcastaddr`), or unicast to the nodelist when one is given.
        Udp = "udp",
        /// Kronosnet in corosync. Here it runs as udpu, keeping knet's link features that
        /// the transport implements: several links, `link_mode` and link priorities.
        Knet = "knet",
    }
}

keywords! {
    /// `totem.ip_version`: which address family a host name resolves to.
    pub enum IpVersion {
        /// Only IPv4 addresses.
        Ipv4 = "ipv4",
        /// Only IPv6 addresses.
        Ipv6 = "ipv6",
        /// The first IPv4 address, else the first IPv6 one.
        Ipv4Then6 = "ipv4-6",
        /// The first IPv6 address, else the first IPv4 one (corosync's default for udpu
        /// and knet).
        Ipv6Then4 = "ipv6-4",
    }
}

impl IpVersion {
    /// Corosync's default for `transport`: ipv4 for udp, ipv6-4 otherwise.
    pub const fn default_for(transport: Transport) -> Self {
        match transport {
            Transport::Udp => Self::Ipv4,
            Transport::Udpu | Transport::Knet => Self::Ipv6Then4,
        }
    }
}

keywords! {
    /// `totem.link_mode`: how packets are spread over several links.
    #[derive(Default)]
    pub enum LinkMode {
        /// The usable link with the highest priority (ties: lowest link number).
        #[default]
        Passive = "passive",
        /// Every usable link at once.
        Active = "active",
        /// Round robin over the usable links.
        Rr = "rr",
    }
}

keywords! {
    /// `totem.crypto_cipher`.
    pub enum Cipher {
        /// No encryption.
        None = "none",
        /// AES-256-GCM.
        Aes256 = "aes256",
        /// AES-192 (as corosync); the transport may map it to its AES-256 AEAD.
        Aes192 = "aes192",
        /// AES-128-GCM.
        Aes128 = "aes128",
        /// ChaCha20-Poly1305; our addition.
        Chacha20 = "chacha20",
    }
}

keywords! {
    /// `totem.crypto_hash`: the HMAC that authenticates packets.
    pub enum Hash {
        /// No authentication (unless the cipher is an AEAD).
        None = "none",
        /// HMAC-MD5.
        Md5 = "md5",
        /// HMAC-SHA1.
        Sha1 = "sha1",
        /// HMAC-SHA256.
        Sha256 = "sha256",
        /// HMAC-SHA384.
        Sha384 = "sha384",
        /// HMAC-SHA512.
        Sha512 = "sha512",
    }
}

keywords! {
    /// `totem.interface.knet_transport`.
    pub enum KnetTransport {
        /// UDP, knet's default.
        Udp = "udp",
        /// SCTP.
        Sctp = "sctp",
    }
}

keywords! {
    /// `quorum.provider`.
    pub enum QuorumProvider {
        /// Votequorum, the only provider corosync has.
        Votequorum = "corosync_votequorum",
    }
}

keywords! {
    /// `logging.syslog_facility`.
    #[derive(Default)]
    pub enum SyslogFacility {
        /// `daemon`, the default.
        #[default]
        Daemon = "daemon",
        /// `local0`.
        Local0 = "local0",
        /// `local1`.
        Local1 = "local1",
        /// `local2`.
        Local2 = "local2",
        /// `local3`.
        Local3 = "local3",
        /// `local4`.
        Local4 = "local4",
        /// `local5`.
        Local5 = "local5",
        /// `local6`.
        Local6 = "local6",
        /// `local7`.
        Local7 = "local7",
    }
}

keywords! {
    /// `logging.syslog_priority` and `logging.logfile_priority`: the least severe level
    /// written.
    #[derive(Default)]
    pub enum LogPriority {
        /// `emerg`.
        Emerg = "emerg",
        /// `alert`.
        Alert = "alert",
        /// `crit`.
        Crit = "crit",
        /// `err` (also spelled `error`, as corosync's logsys accepts).
        Err = "err" | "error",
        /// `warning`.
        Warning = "warning",
        /// `notice`.
        Notice = "notice",
        /// `info`, the default.
        #[default]
        Info = "info",
        /// `debug` (the same as `debug: on`).
        Debug = "debug",
    }
}

keywords! {
    /// `logging.debug`.
    #[derive(Default)]
    pub enum DebugLevel {
        /// No debug messages.
        #[default]
        Off = "off",
        /// Debug messages.
        On = "on",
        /// Debug and trace messages.
        Trace = "trace",
    }
}

keywords! {
    /// `logging.timestamp`.
    #[derive(Default)]
    pub enum Timestamp {
        /// No timestamp.
        Off = "off",
        /// Second precision.
        On = "on",
        /// Millisecond precision, the default.
        #[default]
        Hires = "hires",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_back_as_its_variant() {
        for &cipher in Cipher::ALL {
            assert_eq!(Cipher::from_keyword(cipher.keyword()), Some(cipher));
        }
        for &priority in LogPriority::ALL {
            assert_eq!(
                LogPriority::from_keyword(&priority.to_string()),
                Some(priority)
            );
        }
        assert_eq!(LogPriority::from_keyword("error"), Some(LogPriority::Err));
        assert_eq!(Transport::from_keyword("UDPU"), None);
    }
}
