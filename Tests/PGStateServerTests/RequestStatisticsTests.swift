import Testing

@testable import PGStateServer

@Suite("Request statistics")
struct RequestStatisticsTests {
    @Test func everyDurationFallsInsideItsBucket() {
        var previousUpper: Int64 = 0
        for index in 0..<(RequestStatistics.bucketCount - 1) {
            let upper = RequestStatistics.upperBound(ofBucket: index)
            #expect(upper > previousUpper, "bounds grow")
            // The bucket holds exactly [previous upper, upper).
            #expect(RequestStatistics.bucket(microseconds: previousUpper) == index, "\(previousUpper) in \(index)")
            #expect(RequestStatistics.bucket(microseconds: upper - 1) == index)
            // Four buckets per power of two: a bound is at most 25 % above the bucket's lower end.
            if index >= 4 { #expect(Double(upper) <= Double(previousUpper) * 1.25 + 0.001) }
            previousUpper = upper
        }
        #expect(RequestStatistics.bucket(microseconds: -5) == 0)
        #expect(RequestStatistics.bucket(microseconds: .max) == RequestStatistics.bucketCount - 1)
    }

    @Test func quantilesMergeAndIntervals() {
        var reactorA = RequestStatistics()
        var reactorB = RequestStatistics()
        for _ in 0..<98 { reactorA.record(microseconds: 100) }   // bucket [96, 112)
        reactorB.record(microseconds: 5_000)
        reactorB.record(microseconds: 40_000)
        var merged = reactorA
        merged.merge(reactorB)
        #expect(merged.answered == 100)
        #expect(merged.quantile(0.5) == 112)
        #expect(merged.quantile(0.99) == RequestStatistics.upperBound(ofBucket: RequestStatistics.bucket(microseconds: 5_000)))
        #expect(merged.quantile(1.0)! > 40_000 && merged.quantile(1.0)! <= 50_000)
        let earlier = merged
        merged.record(microseconds: 7)
        let interval = merged.subtracting(earlier)
        #expect(interval.answered == 1)
        #expect(interval.quantile(0.99) == 8)
        #expect(RequestStatistics().quantile(0.99) == nil)
    }
}
