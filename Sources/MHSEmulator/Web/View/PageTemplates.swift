import Mustache

/// The page's templates (`Templates/*.mustache`, compiled into the binary), parsed once.
enum PageTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        let sources: [(String, [UInt8])] = [
            ("page", PackageResources.page_mustache), ("focus", PackageResources.focus_mustache), ("head", PackageResources.head_mustache),
            ("scripts", PackageResources.scripts_mustache), ("legend", PackageResources.legend_mustache), ("scan", PackageResources.scan_mustache),
            ("evaluation", PackageResources.evaluation_mustache), ("table", PackageResources.table_mustache),
        ]
        for (name, bytes) in sources {
            // A template that does not parse is a defect of this package, caught by its tests.
            try! library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        return library
    }()

    /// `object` rendered with the template `name`.
    static func render(_ object: Any, template name: String) -> String {
        library.render(object, withTemplate: name) ?? "<!doctype html><p>template \(name) is missing</p>"
    }
}
