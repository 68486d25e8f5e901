use ais_wire::ipc::QdeviceName;
use clap::Parser;

use super::*;

/// `corosync-quorumtool -s` 3.1.7 on node 1 of a three-node cluster
/// (shared/bench/corosync-baseline/results/tools/quorumtool-s.txt).
const COROSYNC_S: &str = "\
Quorum information
------------------
Date:             Mon Nov 23 09:24:26 2026
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          1
Ring ID:          1.9
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 n1 (local)
         2          1 n2
         3          1 n3
";

/// `corosync-quorumtool -l` on the same cluster (quorumtool-l.txt).
const COROSYNC_L: &str = "
Membership information
----------------------
    Nodeid      Votes Name
         1          1 n1 (local)
         2          1 n2
         3          1 n3
";

const DATE: &str = "Mon Nov 23 09:24:26 2026";

fn info(nodeid: u32, flags: u32) -> VotequorumInfo {
    VotequorumInfo {
        nodeid: NodeId(nodeid),
        state: 1,
        votes: 1,
        expected_votes: 3,
        highest_expected: 3,
        total_votes: 3,
        quorum: 2,
        flags,
        qdevice_votes: 0,
        qdevice_name: QdeviceName::default(),
    }
}

fn three_nodes(flags: u32) -> Membership {
    Membership {
        members: (1..=3)
            .map(|n| Member {
                nodeid: NodeId(n),
                info: Some(info(n, flags)),
                info_unavailable: false,
                name: format!("n{n}"),
            })
            .collect(),
        local: NodeId(1),
        votequorum: true,
    }
}

fn status(flags: u32) -> Status {
    Status {
        provider: "corosync_votequorum".into(),
        ring: Ring {
            rep: Some(NodeId(1)),
            seq: 9,
        },
        quorate: flags & info_flags::QUORATE != 0,
        info: Some(info(1, flags)),
        membership: three_nodes(flags),
    }
}

#[test]
fn status_matches_corosync_byte_for_byte() {
    let text = status_text(&status(info_flags::QUORATE), DATE, Format::default());
    assert_eq!(text, COROSYNC_S);
}

#[test]
fn list_matches_corosync_byte_for_byte() {
    // corosync-quorumtool -l starts with an empty line.
    let text = members_text(&three_nodes(info_flags::QUORATE), Format::default());
    assert_eq!(text, COROSYNC_L);
}

#[test]
fn ring_ids_print_in_hex() {
    let mut s = status(info_flags::QUORATE);
    s.ring = Ring {
        rep: Some(NodeId(0x1a)),
        seq: 0x4d,
    };
    assert!(head_text(&s, DATE, Format::default()).contains("\nRing ID:          1a.4d\n"));
    s.ring.rep = None;
    assert!(head_text(&s, DATE, Format::default()).contains("\nRing ID:          4d\n"));
}

#[test]
fn hex_ids_and_machine_parsable_columns() {
    let format = Format {
        hex: true,
        parsable: true,
    };
    let mut s = status(info_flags::QUORATE);
    s.membership.members.truncate(1);
    let text = status_text(&s, DATE, format);
    assert!(text.contains("\nNode ID:          0x00000001\n"), "{text}");
    assert!(
        text.ends_with(
            "    Nodeid      Votes    Qdevice Name\n\
             0x00000001          1         NR n1 (local)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_blocked_partition_says_so() {
    let flags = info_flags::TWONODE | info_flags::WAIT_FOR_ALL;
    let text = votequorum_text(&VotequorumInfo {
        total_votes: 1,
        ..info(1, flags)
    });
    assert_eq!(
        text,
        "\nVotequorum information\n----------------------\n\
         Expected votes:   3\n\
         Highest expected: 3\n\
         Total votes:      1\n\
         Quorum:           2 Activity blocked\n\
         Flags:            2Node WaitForAll \n"
    );
    let all = info_flags::TWONODE
        | info_flags::QUORATE
        | info_flags::WAIT_FOR_ALL
        | info_flags::LAST_MAN_STANDING
        | info_flags::AUTO_TIE_BREAKER
        | info_flags::ALLOW_DOWNSCALE;
    assert_eq!(
        flag_names(all),
        [
            "2Node",
            "Quorate",
            "WaitForAll",
            "LastManStanding",
            "AutoTieBreaker",
            "AllowDownscale"
        ]
    );
}

#[test]
fn without_votequorum_only_the_first_block_prints() {
    let s = Status {
        provider: "Not configured".into(),
        ring: Ring { rep: None, seq: 12 },
        quorate: true,
        info: None,
        membership: Membership {
            members: vec![Member {
                nodeid: NodeId(4),
                ..Member::default()
            }],
            local: NodeId(0),
            votequorum: false,
        },
    };
    assert_eq!(
        status_text(&s, DATE, Format::default()),
        "Quorum information\n------------------\n\
         Date:             Mon Nov 23 09:24:26 2026\n\
         Quorum provider:  Not configured\n\
         Nodes:            1\n\
         Node ID:          0\n\
         Ring ID:          c\n\
         Quorate:          Yes\n"
    );
    assert_eq!(
        members_text(&s.membership, Format::default()),
        "\nMembership information\n----------------------\n    Nodeid Name\n         4 \n"
    );
}

#[test]
fn a_quorum_device_gets_its_column_and_line() {
    let qdevice = info_flags::QUORATE
        | info_flags::QDEVICE_REGISTERED
        | info_flags::QDEVICE_ALIVE
        | info_flags::QDEVICE_CAST_VOTE;
    let mut m = three_nodes(qdevice);
    for member in &mut m.members {
        let info = member.info.as_mut().unwrap();
        info.qdevice_votes = 2;
        info.qdevice_name = QdeviceName::new("Qdevice").unwrap();
    }
    m.members[2].info.as_mut().unwrap().flags = info_flags::QUORATE;
    assert_eq!(
        members_text(&m, Format::default()),
        "\nMembership information\n----------------------\n\
         \x20   Nodeid      Votes    Qdevice Name\n\
         \x20        1          1    A,V,NMW n1 (local)\n\
         \x20        2          1    A,V,NMW n2\n\
         \x20        3          1         NR n3\n\
         \x20        0          2            Qdevice\n"
    );
    // Not casting its vote here: 0 votes, and the device's votes in parentheses.
    m.members[0].info.as_mut().unwrap().flags &= !info_flags::QDEVICE_CAST_VOTE;
    assert!(
        members_text(&m, Format::default())
            .ends_with("         0          0            Qdevice (votes 2)\n")
    );
}

#[test]
fn a_node_without_info_is_reported_above_the_list() {
    let mut m = three_nodes(info_flags::QUORATE);
    m.members[1].info = Some(VotequorumInfo::default());
    m.members[1].info_unavailable = true;
    let text = members_text(&m, Format::default());
    assert!(text.starts_with("Unable to get node 2 info\n\nMembership information\n"));
    assert!(text.contains("\n         2          0 n2\n"), "{text}");
}

#[test]
fn names_follow_corosyncs_node_name() {
    let addrs: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.1.0.1".parse().unwrap()];
    let numeric = |addr: IpAddr| Some(addr.to_string());
    let unresolved = |_| None;
    assert_eq!(compose_name(Some("n1"), &addrs, false, &numeric), "n1");
    assert_eq!(
        compose_name(Some("n1"), &addrs, true, &numeric),
        "n1, 10.1.0.1"
    );
    assert_eq!(compose_name(None, &addrs, false, &numeric), "10.0.0.1");
    assert_eq!(
        compose_name(None, &addrs, true, &numeric),
        "10.0.0.1, 10.1.0.1"
    );
    // An empty nodelist name counts as none.
    assert_eq!(compose_name(Some(""), &addrs, false, &numeric), "10.0.0.1");
    // getnameinfo failing adds nothing, but the separator stays.
    assert_eq!(compose_name(None, &addrs, false, &unresolved), "");
    assert_eq!(compose_name(None, &addrs, true, &unresolved), ", ");
    assert_eq!(compose_name(None, &[], true, &numeric), "");
}

#[test]
fn members_sort_by_id_or_name_with_their_own_votes() {
    let mut members = three_nodes(0).members;
    members.swap(0, 2);
    members[0].name = "b".into();
    members[1].name = "c".into();
    members[2].name = "a".into();
    members[0].info.as_mut().unwrap().votes = 3;
    sort_members(&mut members, Order::NodeId);
    let ids: Vec<u32> = members.iter().map(|m| m.nodeid.0).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(members[2].info.as_ref().unwrap().votes, 3);
    sort_members(&mut members, Order::Name);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn json_is_one_compact_line() {
    let line = status_json(&status(info_flags::QUORATE));
    assert_eq!(
        line,
        "{\"quorate\":true,\"members\":[1,2,3],\"ring_id\":{\"rep\":1,\"seq\":9},\
         \"node_id\":1,\"provider\":\"corosync_votequorum\",\"expected_votes\":3,\
         \"highest_expected\":3,\"total_votes\":3,\"quorum\":2,\"flags\":[\"Quorate\"],\
         \"nodes\":[{\"nodeid\":1,\"votes\":1,\"name\":\"n1\",\"local\":true},\
         {\"nodeid\":2,\"votes\":1,\"name\":\"n2\",\"local\":false},\
         {\"nodeid\":3,\"votes\":1,\"name\":\"n3\",\"local\":false}]}\n"
    );
    assert_eq!(
        members_json(&three_nodes(0)).lines().next(),
        Some("{\"nodeid\":1,\"votes\":1,\"name\":\"n1\",\"local\":true}")
    );
}

#[test]
fn flags_parse_like_corosync() {
    let parse = |args: &[&str]| {
        let args = QuorumtoolArgs::try_parse_from(args).unwrap();
        Command::from_args(&args)
    };
    assert_eq!(parse(&["q"]), Ok(Command::Status));
    assert_eq!(parse(&["q", "-s"]), Ok(Command::Status));
    assert_eq!(parse(&["q", "-l"]), Ok(Command::List));
    assert_eq!(parse(&["q", "-m", "--json"]), Ok(Command::Monitor));
    assert_eq!(parse(&["q", "-w"]), Ok(Command::Wait));
    assert_eq!(parse(&["q", "-e", "5"]), Ok(Command::SetExpected(5)));
    assert_eq!(
        parse(&["q", "-e", "0"]),
        Err("New expected votes value was not valid, try a positive number".into())
    );
    assert_eq!(
        parse(&["q", "-v", "0", "-n", "3"]),
        Ok(Command::SetVotes {
            votes: 0,
            nodeid: Some(NodeId(3))
        })
    );
    assert_eq!(
        parse(&["q", "-v", "x"]),
        Err("New votes value was not valid, try a positive number or zero".into())
    );
    assert_eq!(
        parse(&["q", "-v", "1", "-n", "0"]),
        Err("The nodeid was not valid, try a positive number".into())
    );
    assert_eq!(Order::parse(Some("i")), Ok(Order::NodeId));
    assert!(Order::parse(Some("x")).is_err());
    assert!(QuorumtoolArgs::try_parse_from(["q", "-s", "-l"]).is_err());
}
