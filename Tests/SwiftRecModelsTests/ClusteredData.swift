import SwiftRecData
import SwiftRecTensor

/// Users in clusters that take items of their own cluster, now and then one of a few items
/// everyone likes; each user's last cluster item is held out (leave-last-out).
/// Item `i<c * itemsPerCluster + k>` is item k of cluster c; the 5 popular items come after them.
struct ClusteredData {
    let train: Dataset
    let heldOut: HeldOut
    let clusters: Int
    let itemsPerCluster: Int

    init(
        users: Int = 200, clusters: Int = 4, itemsPerCluster: Int = 15, picksPerUser: Int = 8,
        popularShare: Float = 0.5, seed: UInt64 = 1
    ) {
        var g = SeededGenerator(seed: seed)
        var builder = DatasetBuilder()
        let popular = clusters * itemsPerCluster
        for i in 0..<(popular + 5) {
            builder.add(Item(id: "i\(i)", categories: ["c\(min(i / itemsPerCluster, clusters))"]))
        }
        var targets: [(String, String)] = []
        for u in 0..<users {
            let c = u % clusters
            var time: Int64 = 0
            let picks = (0..<itemsPerCluster).shuffled(using: &g).prefix(picksPerUser)
            for p in picks.dropLast() {
                builder.add(Event(user: "u\(u)", item: "i\(c * itemsPerCluster + p)", timestamp: time))
                time += 1
                if g.nextUniform() < popularShare {
                    builder.add(Event(user: "u\(u)", item: "i\(popular + g.nextInt(below: 5))", timestamp: time))
                    time += 1
                }
            }
            targets.append(("u\(u)", "i\(c * itemsPerCluster + picks.last!)"))
        }
        let dataset = builder.build()
        train = dataset
        heldOut = HeldOut(
            users: targets.map { dataset.users.index(of: $0.0)! },
            items: targets.map { [dataset.items.index(of: $0.1)!] })
        self.clusters = clusters
        self.itemsPerCluster = itemsPerCluster
    }

    /// The dense index of item k of cluster c.
    func item(cluster c: Int, _ k: Int) -> Int32 { train.items.index(of: "i\(c * itemsPerCluster + k)")! }
}
