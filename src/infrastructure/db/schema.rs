//! The diesel schema, one `table!` per table of `migrations/`; identical on both backends but for
//! `orders_buyers` and its position, which SQLite alone has (see `repos::buyer_index`).

diesel::table! {
    identity_users (id) {
        id -> Text,
        username -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        role -> Text,
        nickname -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    live_rooms (id) {
        id -> Text,
        merchant_id -> Text,
        title -> Text,
        status -> Text,
        scheduled_at -> Nullable<BigInt>,
        stream_key -> Text,
        pinned_listing_id -> Nullable<Text>,
        created_at -> BigInt,
        started_at -> Nullable<BigInt>,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    catalog_listings (id) {
        id -> Text,
        room_id -> Text,
        title -> Text,
        price_cents -> BigInt,
        stock_total -> BigInt,
        per_user_limit -> Integer,
        starts_at -> Nullable<BigInt>,
        ends_at -> Nullable<BigInt>,
        created_at -> BigInt,
        journal_position -> BigInt,
    }
}

diesel::table! {
    orders_orders (id) {
        id -> Text,
        room_id -> Text,
        listing_id -> Text,
        user_id -> Text,
        quantity -> Integer,
        unit_price_cents -> BigInt,
        total_cents -> BigInt,
        status -> Text,
        idempotency_key -> Nullable<Text>,
        expires_at -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

// SQLite only: the keyless orders of each buyer, filed behind the journal's commits.
diesel::table! {
    orders_buyers (user_id, created_at, order_id) {
        user_id -> Text,
        created_at -> BigInt,
        order_id -> Text,
    }
}

// SQLite only: how far `orders_buyers` is filed.
diesel::table! {
    orders_buyers_position (id) {
        id -> Integer,
        indexed_rowid -> BigInt,
    }
}

diesel::joinable!(orders_buyers -> orders_orders (order_id));
diesel::allow_tables_to_appear_in_same_query!(orders_buyers, orders_orders);

diesel::table! {
    marketing_campaigns (room_id) {
        room_id -> Text,
        amount_off_cents -> BigInt,
        min_spend_cents -> BigInt,
        valid_for_s -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    marketing_coupons (id) {
        id -> Text,
        order_id -> Text,
        user_id -> Text,
        room_id -> Text,
        amount_off_cents -> BigInt,
        min_spend_cents -> BigInt,
        expires_at -> BigInt,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        redeemed_at -> Nullable<BigInt>,
        redeemed_order_id -> Nullable<Text>,
    }
}

diesel::table! {
    marketing_processed_events (event_id) {
        event_id -> Text,
        processed_at -> BigInt,
    }
}

diesel::table! {
    outbox_batches (seq) {
        seq -> BigInt,
        events -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox_cursor (id) {
        id -> Integer,
        published_seq -> BigInt,
    }
}

diesel::table! {
    live_mutes (room_id, user_id) {
        room_id -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    live_room_leases (room_id) {
        room_id -> Text,
        owner -> Text,
        epoch -> BigInt,
        expires_at -> BigInt,
        owner_pid -> Nullable<Integer>,
        owner_started -> Nullable<BigInt>,
    }
}

diesel::table! {
    orders_journal_writers (writer) {
        writer -> Text,
        last_batch -> BigInt,
        refused -> Text,
    }
}

diesel::table! {
    payments_payments (id) {
        id -> Text,
        order_id -> Text,
        user_id -> Text,
        amount_cents -> BigInt,
        provider -> Text,
        state -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    live_room_snapshots (room_id) {
        room_id -> Text,
        body -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    live_session_snapshots (room_id, user_id) {
        room_id -> Text,
        user_id -> Text,
        body -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    inventory_listing_snapshots (listing_id) {
        listing_id -> Text,
        body -> Text,
        updated_at -> BigInt,
    }
}
