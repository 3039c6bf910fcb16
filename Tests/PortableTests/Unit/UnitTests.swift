import Foundation
import Testing
@testable import Backends

@Suite struct JSONTests {
    @Test func roundTripsCompactlyKeepingOrderAndNumbers() throws {
        let text = #" {"b": 1, "a": [true, false, null, 1.50, -0, 2e10, "x\"y\\z\n\u00e9\ud83d\ude00"], "c": {}} "#
        let v = try JSON.parse(text)
        #expect(v.compact == #"{"b":1,"a":[true,false,null,1.50,-0,2e10,"x\"y\\z\né😀"],"c":{}}"#)
        #expect(try JSON.parse(v.compact) == v)
        #expect(v["a"]?.arrayValue?.count == 7)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "tru", "\"\u{01}\"", "[1] [2]", "\"\\ud800\"", "NaN"])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: PortableError.self) { try JSON.parse(text) }
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: PortableError.self) { try JSON.parse(deep) }
    }
}

@Suite struct TimeTests {
    @Test func formatsAndParsesRFC3339() {
        let d = Date(timeIntervalSince1970: 1_800_000_000.123)
        #expect(Time.format(d) == "2027-01-15T08:00:00.123Z")
        #expect(Time.parse("2027-01-15T08:00:00.123Z") == d)
        #expect(Time.parse("2027-01-15T10:00:00.123+02:00") == d)
        #expect(Time.parse("2027-01-15 08:00:00.123456+00", requireOffset: false) == d)
        #expect(Time.parse("2027-01-15T08:00:00") == nil, "a time without an offset is refused")
        #expect(Time.parse("2027-13-15T08:00:00Z") == nil)
        #expect(Time.format(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Time.format(millis: -1) == "1969-12-31T23:59:59.999Z")
    }
}

@Suite struct DatabaseURLTests {
    @Test func parsesTheDocumentedForms() throws {
        #expect(try DatabaseURL.parse("sqlite:jobs.db", cwd: "/srv") == .sqlite(path: "/srv/jobs.db"))
        #expect(try DatabaseURL.parse("sqlite:///var/lib/q.db") == .sqlite(path: "/var/lib/q.db"))
        #expect(try DatabaseURL.parse("sqlite::memory:") == .sqliteMemory)
        guard case .postgres(let u) = try DatabaseURL.parse("postgresql://bob:s%40cret@db.example:6543/app?sslmode=require&schema=jobs") else {
            Issue.record("not postgres"); return
        }
        #expect(u.host == "db.example" && u.port == 6543 && u.user == "bob" && u.password == "s@cret")
        #expect(u.database == "app" && u.schema == "jobs" && u.options.map(\.0) == ["sslmode"])
        #expect(!u.description.contains("cret"), "the password never shows")
        guard case .postgres(let d) = try DatabaseURL.parse("postgres://localhost/db") else { return }
        #expect(d.schema == "portableq")
    }

    @Test(arguments: ["mysql://x/y", "sqlite:", "sqlite://relative.db", "postgres://h/db?schema=bad-name",
                      "postgres://h:99999/db", "postgres://h/db?bogus=1", "just-text", "sqlite:dir/"])
    func refusesWhatItCannotParse(_ raw: String) {
        let e = #expect(throws: PortableError.self) { try DatabaseURL.parse(raw) }
        #expect(e?.code == .badURL)
    }
}

@Suite struct UUIDv7Tests {
    @Test func idsAreVersion7AndIncreasing() {
        let gen = UUIDv7(random: SeededRandom())
        let now = Date()
        let ids = (0..<1000).map { _ in gen.next(at: now) }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == 1000)
        #expect(ids.allSatisfy { UUIDv7.isValid($0) && Array($0)[14] == "7" && "89ab".contains(Array($0)[19]) })
        let later = gen.next(at: now.addingTimeInterval(1))
        #expect(later > ids.last!)
    }
}

@Suite struct MigratorTests {
    @Test func statusStates() {
        let known = [Migration(version: 1, name: "a", sql: "-- compatible_with: 1"), Migration(version: 2, name: "b", sql: "-- compatible_with: 1")]
        func applied(_ v: [(Int, Int)]) -> [AppliedMigration] {
            v.map { AppliedMigration(version: $0.0, name: "m", compatibleWith: $0.1, appliedAt: Date()) }
        }
        #expect(Migrator.status(applied: nil, known: known).state == .empty)
        #expect(Migrator.status(applied: applied([(1, 1)]), known: known).state == .behind)
        #expect(Migrator.status(applied: applied([(1, 1), (2, 1)]), known: known).state == .current)
        #expect(Migrator.status(applied: applied([(1, 1), (2, 1), (3, 2)]), known: known).state == .newerCompatible)
        let s = Migrator.status(applied: applied([(1, 1), (2, 1), (3, 3)]), known: known)
        #expect(s.state == .newerIncompatible && s.requiredBinaryVersion == 3)
        #expect(Migrator.refusal(s, where: "x")?.code == .schemaTooNew)
    }
}

@Suite struct MinifyTests {
    @Test(arguments: [
        #"{"a":1}"#, #" { "a" : [ 1 , 2.5e3 , "x y\n" ] , "b" : null } "#, "true", " 12 ", #""\u00e9\"""#,
        #"[{"k":"v \" , ]"},{}]"#, "[]", "{}",
    ])
    func minifyKeepsTheValueAndDropsWhitespace(_ text: String) throws {
        let m = try JSON.minify(text)
        #expect(try JSON.parse(m) == JSON.parse(text), "the same value (escapes stay as written)")
        #expect(try JSON.minify(m) == m)
        #expect(m.utf8.count <= text.utf8.count)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "tru", "\"\u{01}\"", "[1] [2]", "\"\\ud800\"", "{\"a\":}"])
    func minifyRefusesWhatParseRefuses(_ text: String) {
        #expect(throws: PortableError.self) { try JSON.minify(text) }
    }

    @Test func compactTextComesBackAsIs() throws {
        let text = #"{"already":"compact","n":[1,2,3]}"#
        #expect(try JSON.minify(text) == text)
    }
}
