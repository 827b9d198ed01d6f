import PGStateProtocol
import Testing

@testable import PGStateServer

/// A name service over a fixed table, so the rules are tested without touching /etc/passwd.
let testNames = NameService(
    userName: { [1001: "billing", 1002: "reports", 1003: "alice", 1004: "bad@name"][$0] },
    userID: { ["billing": 1001, "reports": 1002, "alice": 1003][$0] },
    groupID: { ["reports": 2002, "ops": 2003][$0] }
)

private let exampleFile = """
    # who           namespace      permissions
    user:billing    billing        rw    connections=4 in-flight=100
    group:reports   billing        r
    uid:0           *              admin
    gid:2003        ops            rw   # a trailing comment
    user:*          {user}         rw
    """

private func peer(_ uid: UInt32, gid: UInt32? = nil, groups: [UInt32] = [], name: String? = nil) -> PeerIdentity {
    PeerIdentity(uid: uid, gid: gid ?? uid, pid: 77, groups: groups,
                 userName: name ?? [1001: "billing", 1002: "reports", 1003: "alice", 1004: "bad@name"][uid])
}

@Suite("Access rules: parsing")
struct AccessFileParserTests {
    @Test func parsesTheDocumentedExample() throws {
        let rules = try AccessRules.parse(exampleFile, source: "/etc/pgstated/access.conf", names: testNames)
        #expect(rules.rules.count == 5)
        #expect(rules.warnings.isEmpty)
        #expect(rules.rules[0] == AccessRule(who: .user(name: "billing", uid: 1001), namespace: .literal(try Namespace("billing")),
                                             permissions: [.read, .write],
                                             limits: IdentityLimits(connections: 4, inFlight: 100), line: 2))
        #expect(rules.rules[1].who == .group(name: "reports", gid: 2002))
        #expect(rules.rules[1].permissions == [.read])
        #expect(rules.rules[2].who == .uid(0))
        #expect(rules.rules[2].namespace == .every)
        #expect(rules.rules[2].permissions == [.read, .write, .admin])
        #expect(rules.rules[3].who == .gid(2003))
        #expect(rules.rules[3].line == 5)
        #expect(rules.rules[4].who == .anyUser)
        #expect(rules.rules[4].namespace == .userName)
    }

    @Test func sharedNamespaceIsWrittenAsTwoQuotes() throws {
        let rules = try AccessRules.parse("uid:5 \"\" r", source: "f", names: testNames)
        #expect(rules.rules[0].namespace == .literal(.shared))
    }

    @Test(arguments: [
        ("user:billing billing", 1, "expected WHO NAMESPACE PERMISSIONS, found 2 fields"),
        ("\n\nbilling billing rw", 3, "is not user:NAME"),
        ("host:x billing rw", 1, "\"host:\" is not user:, uid:, group: or gid:"),
        ("uid:abc billing rw", 1, "expected a number"),
        ("uid:-1 billing rw", 1, "expected a number"),
        ("user: billing rw", 1, "names nobody"),
        ("user:billing bill/ing rw", 1, "namespace \"bill/ing\""),
        ("user:billing \(String(repeating: "n", count: 64)) rw", 1, "namespace"),
        ("user:billing billing w", 1, "permissions \"w\" are not r, rw or admin"),
        ("user:billing billing rw connections=0", 1, "from 1 to 10000000"),
        ("user:billing billing rw connections=x", 1, "from 1 to 10000000"),
        ("user:billing billing rw speed=3", 1, "unknown option \"speed\""),
        ("user:billing billing rw connections", 1, "not an option"),
        ("user:billing billing rw connections=1 connections=2", 1, "given twice"),
    ] as [(String, Int, String)])
    func refusesABadLineWithItsNumberAndReason(text: String, line: Int, reason: String) {
        do {
            _ = try AccessRules.parse(text, source: "access.conf", names: testNames)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.reason.contains(reason), "\(error.reason)")
            #expect(error.description.hasPrefix("access.conf:\(line): "))
        }
    }

    @Test func unknownNamesAreWarningsAndMatchNobody() throws {
        let rules = try AccessRules.parse("user:ghost ghost rw\ngroup:nobodies x r", source: "f", names: testNames)
        #expect(rules.rules[0].who == .user(name: "ghost", uid: nil))
        #expect(rules.warnings.count == 2)
        #expect(rules.warnings[0].contains("f:1") && rules.warnings[0].contains("no user named \"ghost\""))
        #expect(rules.grant(for: peer(1001)) == nil)
    }

    @Test func aFileWithoutRulesRefusesEveryoneAndSaysSo() throws {
        let rules = try AccessRules.parse("# nothing\n\n", source: "f", names: testNames)
        #expect(rules.rules.isEmpty)
        #expect(rules.warnings == ["f: no rules: every connection is refused"])
        #expect(rules.grant(for: peer(0)) == nil)
    }
}

@Suite("Access rules: matching")
struct AccessRulesMatchingTests {
    let rules: AccessRules

    init() throws {
        rules = try AccessRules.parse(exampleFile, source: "/etc/pgstated/access.conf", names: testNames)
    }

    @Test func userRuleGrantsItsNamespaceAndLimits() throws {
        let grant = try #require(rules.grant(for: peer(1001)))
        #expect(grant == AccessGrant(namespace: try Namespace("billing"), permissions: [.read, .write],
                                     rule: "/etc/pgstated/access.conf:2",
                                     limits: IdentityLimits(connections: 4, inFlight: 100)))
    }

    @Test func groupRuleMatchesSupplementaryAndPrimaryGroups() throws {
        let supplementary = try #require(rules.grant(for: peer(1003, groups: [2002])))
        #expect(supplementary.namespace.value == "billing")
        #expect(supplementary.permissions == [.read])
        #expect(supplementary.rule.hasSuffix(":3"))
        let primary = try #require(rules.grant(for: peer(1003, gid: 2002)))
        #expect(primary.rule.hasSuffix(":3"))
        let byGID = try #require(rules.grant(for: peer(1003, groups: [9, 2003])))
        #expect(byGID.namespace.value == "ops")
    }

    @Test func firstMatchWins() throws {
        // billing is also in group reports: its own line comes first.
        let grant = try #require(rules.grant(for: peer(1001, groups: [2002])))
        #expect(grant.permissions == [.read, .write])
    }

    @Test func everyNamespaceGrantsAnyNamespaceWithTheSharedOneAsDefault() throws {
        let grant = try #require(rules.grant(for: peer(0, name: "root")))
        #expect(grant.namespace == .shared)
        #expect(grant.permissions == [.read, .write, .admin, .anyNamespace])
        #expect(grant.namespace(for: try Namespace("billing"))?.value == "billing")
        #expect(grant.namespace(for: nil) == .shared)
    }

    @Test func userTemplateUsesThePeersName() throws {
        let grant = try #require(rules.grant(for: peer(1003)))
        #expect(grant.namespace.value == "alice")
        #expect(grant.rule.hasSuffix(":6"))
        #expect(grant.namespace(for: try Namespace("alice"))?.value == "alice", "naming its own namespace is allowed")
        #expect(grant.namespace(for: try Namespace("billing")) == nil, "naming another is not")
    }

    @Test func userTemplateSkipsPeersWithoutAUsableName() {
        #expect(rules.grant(for: peer(1004)) == nil, "bad@name is not a namespace: the rule does not match")
        #expect(rules.grant(for: PeerIdentity(uid: 5000, gid: 5000, pid: 1)) == nil, "no name at all")
    }

    @Test func openPolicyIsOneSharedNamespaceWithOperatorsAsAdmins() throws {
        let policy = AccessPolicy.open(operatorUID: 900)
        let someone = try #require(policy.grant(for: peer(1003)))
        #expect(someone == AccessGrant(namespace: .shared, permissions: [.read, .write], rule: ""))
        #expect(someone.namespace(for: try Namespace("x")) == nil)
        for uid: UInt32 in [0, 900] {
            let grant = try #require(policy.grant(for: peer(uid)))
            #expect(grant.permissions == [.read, .write, .admin, .anyNamespace])
        }
    }
}

@Suite("Log rate limiter")
struct LogRateLimiterTests {
    @Test func allowsABurstPerPeerThenSummarisesTheRest() {
        var limiter = LogRateLimiter(burst: 3, windowMilliseconds: 1000)
        let admitted = (0..<2000).map { limiter.admit(7, now: 100 + Int64($0 % 500)).log }
        #expect(admitted.filter { $0 }.count == 3)
        #expect(limiter.admit(8, now: 200).log, "another peer has its own budget")
        #expect(limiter.expired(now: 1099).isEmpty)
        #expect(limiter.expired(now: 1100) == [LogRateLimiter.Summary(uid: 7, suppressed: 1997, milliseconds: 1000)])
        #expect(limiter.expired(now: 5000).isEmpty, "peer 8 suppressed nothing; its window just ends")
        #expect(limiter.windows.isEmpty)
        #expect(limiter.admit(7, now: 6000).log, "a new window")
    }

    @Test func aLineAfterTheWindowCarriesTheSummary() {
        var limiter = LogRateLimiter(burst: 1, windowMilliseconds: 1000)
        _ = limiter.admit(1, now: 0)
        #expect(!limiter.admit(1, now: 10).log)
        let (log, summary) = limiter.admit(1, now: 1500)
        #expect(log)
        #expect(summary == LogRateLimiter.Summary(uid: 1, suppressed: 1, milliseconds: 1500))
    }
}
