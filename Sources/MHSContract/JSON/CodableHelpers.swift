import OrderedCollections

// Codable support for ordered maps. swift-collections encodes an `OrderedDictionary` as a
// flat array of keys and values; the contract needs JSON objects, so the model goes
// through these helpers instead.

extension KeyedDecodingContainer {
    /// Decodes a JSON object member, keeping key order when our decoder is used.
    func decodeObjectIfPresent(forKey key: Key) throws -> JSONObject? {
        guard let value = try decodeIfPresent(JSONValue.self, forKey: key) else { return nil }
        switch value {
        case .null: return nil
        case .object(let members): return members
        default:
            throw DecodingError.typeMismatch(
                JSONObject.self, .init(codingPath: codingPath + [key], debugDescription: "expected an object, found \(value.typeName)"))
        }
    }

    /// Decodes a JSON object whose members all have type `T`, keeping their order.
    func decodeMap<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> OrderedMap<T> {
        guard let map = try decodeMapIfPresent(type, forKey: key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing member \"\(key.stringValue)\""))
        }
        return map
    }

    /// Like ``decodeMap(_:forKey:)``, nil when the member is absent or null.
    func decodeMapIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> OrderedMap<T>? {
        guard let members = try decodeObjectIfPresent(forKey: key) else { return nil }
        var map = OrderedMap<T>()
        for (name, value) in members {
            map[name] = try T(from: JSONValueDecoder(value: value, codingPath: codingPath + [key, AnyCodingKey(name)]))
        }
        return map
    }
}

extension KeyedEncodingContainer {
    /// Encodes an ordered map as a JSON object.
    mutating func encodeMap<T: Encodable>(_ map: OrderedMap<T>, forKey key: Key) throws {
        var nested = nestedContainer(keyedBy: AnyCodingKey.self, forKey: key)
        for (name, value) in map { try nested.encode(value, forKey: AnyCodingKey(name)) }
    }

    /// Encodes an optional ordered map as a JSON object, or `null`.
    mutating func encodeMapOrNull<T: Encodable>(_ map: OrderedMap<T>?, forKey key: Key) throws {
        if let map { try encodeMap(map, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
