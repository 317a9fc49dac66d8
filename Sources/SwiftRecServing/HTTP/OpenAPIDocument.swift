// Generated from docs/openapi.yaml by scripts/embed-openapi.sh; edit the document, not this file.

/// The API document the service describes itself with (`GET /openapi.yaml`).
enum OpenAPIDocument {
    static let yaml = #"""
        openapi: 3.1.0
        info:
          title: SwiftRec service
          version: 0.4.0
          description: |
            Recommendations that follow each user's newest events. Writes are durable before the
            response (SQLite WAL with `synchronous = FULL`: every commit is fsynced). When the server runs
            with keys (`--api-key KEY`: every scope; `--api-keys FILE`: scoped keys), each operation needs
            the `X-API-Key` header (or `Authorization: Bearer <key>`) of a key holding the scope its
            `security` names: `read` (recommendations, similar items, sessions, the catalogue), `write`
            (events, items, user attributes) or `admin` (models, training, listing users, interests,
            deleting users). /health, /metrics and /openapi.yaml are always open. No key: 401; a key
            without the scope: 403. Every 4xx has a JSON body `{"error": "<field>: <what is wrong>"}`.
        servers:
          - url: http://127.0.0.1:8080
        components:
          securitySchemes:
            apiKey:
              type: apiKey
              in: header
              name: X-API-Key
              description: A key with scopes read, write and/or admin; operations list the scope they need.
          parameters:
            UserID:
              name: id
              in: path
              required: true
              description: 'An id: 1 to 256 bytes of UTF-8, no control characters; percent-encoded in the path (`jane%20doe`).'
              schema: {type: string, minLength: 1}
            ItemID:
              name: id
              in: path
              required: true
              description: 'An id: 1 to 256 bytes of UTF-8, no control characters; percent-encoded in the path (`jane%20doe`).'
              schema: {type: string, minLength: 1}
            Count:
              name: n
              in: query
              description: Items to return, 1 to 100.
              schema: {type: integer, minimum: 1, maximum: 100, default: 10}
            Explain:
              name: explain
              in: query
              description: >-
                Include the history items that drove each recommendation. `true` or `attention`: the model's
                one-pass method (SASRec: its last block's attention × value vectors; other models: gradient × input);
                `gradient`: gradient × input through the whole network (one backward pass per request).
              schema: {type: string, enum: ['true', 'false', '1', '0', attention, gradient], default: 'false'}
            Diversity:
              name: diversity
              in: query
              description: >-
                MMR re-ranking weight on relevance over the best 5·n (at least 50) candidates: 1 keeps the model's
                order (default), lower values trade relevance for variety.
              schema: {type: number, minimum: 0, maximum: 1, default: 1}
            CategoryCap:
              name: category_cap
              in: query
              description: At most this many items sharing a first category (default no cap).
              schema: {type: integer, minimum: 1, maximum: 100}
            DiversifyBy:
              name: diversify_by
              in: query
              description: MMR similarity from shared categories (default) or the model's item vectors.
              schema: {type: string, enum: [category, embedding], default: category}
            Explore:
              name: explore
              in: query
              description: >-
                Probability that the last slot goes to an exploration item drawn from the lower-ranked candidates
                (marked `"explore": true`); default 0.
              schema: {type: number, minimum: 0, maximum: 1, default: 0}
            Query:
              name: q
              in: query
              description: >-
                What the person asks for in words ("something for astronomy"). It is matched against every item's
                text (title, brand, categories, description; BM25, or the sentence encoder of `serve --query-encoder`),
                and the similarities are blended with the model's scores after both are standardised over the
                catalogue: (1 − query_weight)·z(model) + query_weight·z(query). With explain, each item says the
                query's share of its score and the query words its text has. 400 when empty or over 512 characters.
              schema: {type: string, minLength: 1, maxLength: 512, pattern: '\S'}
            QueryWeight:
              name: query_weight
              in: query
              description: >-
                The query's weight in the blend, from 0 (ignore it) to 1 (rank by it alone); default 0.5, the best
                weight on amazon-scientific's validation users (BENCHMARKS.md, "Queries").
              schema: {type: number, minimum: 0, maximum: 1, default: 0.5}
            Limit:
              name: limit
              in: query
              schema: {type: integer, minimum: 1, maximum: 1000, default: 100}
            Cursor:
              name: cursor
              in: query
              description: The `next` value of the previous page.
              schema: {type: string}
          schemas:
            Error:
              type: object
              required: [error]
              properties:
                error: {type: string, example: "n: expected an integer from 1 to 100, got '0'"}
            Event:
              type: object
              required: [user, item]
              additionalProperties: false
              properties:
                user: {type: string, minLength: 1, description: 1 to 256 bytes of UTF-8, no control characters.}
                item: {type: string, minLength: 1, description: "Must be a known item (PUT /items/{id}); an id as for users."}
                type: {type: string, enum: [view, click, cart, purchase, rating, like, share, other], default: view}
                value: {type: number, description: A finite number (rating, amount).}
                timestamp: {type: integer, description: Seconds since 1970; defaults to now.}
                scenario: {type: string}
            EventsAccepted:
              type: object
              required: [accepted, rejected]
              properties:
                accepted: {type: integer}
                rejected:
                  type: array
                  items:
                    type: object
                    required: [index, error]
                    properties:
                      index: {type: integer}
                      error: {type: string}
            Item:
              type: object
              required: [id]
              properties:
                id: {type: string}
                title: {type: string}
                description: {type: string}
                categories: {type: array, items: {type: string}}
                attributes: {type: object, additionalProperties: {type: string}}
            User:
              type: object
              required: [id]
              properties:
                id: {type: string}
                attributes: {type: object, additionalProperties: {type: string}}
            Recommendations:
              type: object
              required: [model, recommendations]
              properties:
                user: {type: string, description: Absent for sessions and similar items.}
                model: {type: string}
                recommendations:
                  type: array
                  items:
                    type: object
                    required: [item, score]
                    properties:
                      item: {type: string}
                      score: {type: number}
                      explore: {type: boolean, description: True on the exploration slot.}
                      query:
                        type: object
                        description: With a query and explain, the query's part in this item's score.
                        required: [share, words]
                        properties:
                          share: {type: number, description: The query's share of the blended score (0 to 1).}
                          words: {type: array, items: {type: string}, description: The query's words the item's text has.}
                      because:
                        type: array
                        items:
                          type: object
                          required: [item, weight]
                          properties:
                            item: {type: string}
                            weight: {type: number}
                      features:
                        type: array
                        description: >-
                          With explain=true and a feature model (fm, deepfm, widedeep, dcnv2, din, or a fusion
                          holding one): the features whose values most moved the score, largest share first. A
                          field's weight is the score's drop when it reads as unknown, over the sum of all
                          fields' drops in absolute value.
                        items:
                          type: object
                          required: [field, value, weight]
                          properties:
                            field: {type: string, description: "user.gender, item.categories, user (the id), item, …"}
                            value: {type: string}
                            weight: {type: number}
            Health:
              type: object
              required: [status, model, events]
              properties:
                status: {type: string, enum: [ok]}
                model: {type: string, description: The active model's name; empty when none is active.}
                events: {type: integer, description: Events stored.}
            Deleted:
              type: object
              required: [deleted]
              properties:
                deleted: {type: string}
            Activated:
              type: object
              required: [active]
              properties:
                active: {type: string}
            ItemsPage:
              type: object
              required: [items]
              properties:
                items: {type: array, items: {$ref: '#/components/schemas/Item'}}
                next: {type: [string, 'null'], description: The cursor of the next page; absent or null on the last.}
            StoredItem:
              allOf:
                - {$ref: '#/components/schemas/Item'}
                - type: object
                  required: [extendedModels, failedModels]
                  properties:
                    extendedModels: {type: array, items: {type: string}, description: The models that took in the new item or its new text just now.}
                    failedModels:
                      type: array
                      description: Models that could not embed it; the item is stored either way.
                      items:
                        type: object
                        required: [model, error]
                        properties:
                          model: {type: string}
                          error: {type: string}
            UsersPage:
              type: object
              required: [users]
              properties:
                users: {type: array, items: {$ref: '#/components/schemas/User'}}
                next: {type: [string, 'null'], description: The cursor of the next page; absent or null on the last.}
            Interests:
              type: object
              required: [user, windows]
              properties:
                user: {type: string}
                windows:
                  type: array
                  items:
                    type: object
                    required: [from, to, events, shares]
                    properties:
                      from: {type: integer, description: Timestamp of the window's first event.}
                      to: {type: integer, description: Timestamp of the window's last event.}
                      events: {type: integer}
                      shares: {type: object, additionalProperties: {type: number}, description: Category → share of the window's events.}
            ModelInfo:
              type: object
              required: [name, type, items, active, saved, createdAt, metrics]
              properties:
                name: {type: string}
                type: {type: string, description: The model type, e.g. sasrec.}
                items: {type: integer, description: Catalogue size it scores.}
                active: {type: boolean}
                saved: {type: boolean, description: Its files are saved, so a restarted server loads it again.}
                createdAt: {type: integer, description: Seconds since 1970 when it was registered.}
                metrics:
                  type: object
                  additionalProperties: {type: number}
                  description: The figures of the split it trained on, e.g. valid_NDCG@10, test_HR@10.
                  example: {"valid_NDCG@10": 0.18}
            TrainingJob:
              type: object
              required: [id, model, name, state, epoch, step, steps, message, seconds]
              properties:
                id: {type: integer}
                model: {type: string, description: The model type.}
                name: {type: string, description: The name the trained model is registered under.}
                state: {type: string, enum: [queued, running, finished, failed, cancelled]}
                epoch: {type: integer}
                step: {type: integer}
                steps: {type: integer}
                loss: {type: number}
                message: {type: string, description: The newest line of the training log.}
                validNDCG10: {type: number, description: The best validation NDCG@10 so far (sequence models).}
                metrics:
                  type: object
                  additionalProperties: {type: number}
                  description: When finished, validation and test HR@10 / NDCG@10 of the leave-one-out split it trained on.
                error: {type: string, description: Why it failed.}
                seconds: {type: number}
                cancelRequested: {type: boolean, description: 'Cancelled while running: sequence models stop at their next step, others finish their fit; the result is discarded.'}
                estimatedBytes: {type: number, description: 'The estimated peak memory of the fit, for the data when queued and again when started; above the server''s budget (swiftrec serve --training-memory) a training is refused with 400.'}
          responses:
            NoRoute:
              description: No such route (every unmatched path answers so, with the usual error body).
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            BadRequest:
              description: A parameter or the body is wrong; the message names the field.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            NotFound:
              description: The user, item or model is unknown.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            Unauthorized:
              description: The API key is missing or wrong.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            TooLarge:
              description: The body is larger than 4 MiB (or a batch holds more than 1,000 events).
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            NoModel:
              description: No model is active yet.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
            Forbidden:
              description: The API key lacks the scope the operation needs.
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Error'}
        paths:
          /health:
            get:
              summary: Liveness, stored event count and the active model.
              responses:
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Health'}
          /openapi.yaml:
            get:
              summary: This document.
              responses:
                '200':
                  description: OK
                  content:
                    application/yaml:
                      schema: {type: object, required: [openapi, paths], description: This document, as YAML.}
          /metrics:
            get:
              summary: Prometheus text format counters (requests by route and status, events, live users).
              responses:
                '200': {description: OK}
          /events:
            post:
              security: [{apiKey: [write]}]
              summary: 'Post one event, an array of events, or {"events": [...]} (at most 1,000).'
              description: |
                Valid events are stored durably and count in the next recommendation. Invalid elements
                are rejected by index with a message; the valid part of a batch is kept and the response
                is then 422 listing the rejections. A batch over the limit is refused whole (413).
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      oneOf:
                        - {$ref: '#/components/schemas/Event'}
                        - {type: array, items: {$ref: '#/components/schemas/Event'}}
                        - {type: object, properties: {events: {type: array, items: {$ref: '#/components/schemas/Event'}}}}
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: All events stored.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/EventsAccepted'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '413': {$ref: '#/components/responses/TooLarge'}
                '422':
                  description: Some events were rejected; the valid ones were stored.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/EventsAccepted'}
          /items:
            get:
              security: [{apiKey: [read]}]
              summary: Items in id order, one page.
              parameters:
                - {$ref: '#/components/parameters/Limit'}
                - {$ref: '#/components/parameters/Cursor'}
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/ItemsPage'}
                '400': {$ref: '#/components/responses/BadRequest'}
          /items/{id}:
            get:
              security: [{apiKey: [read]}]
              summary: One item.
              parameters: [{$ref: '#/components/parameters/ItemID'}]
              responses:
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Item'}
                '404': {$ref: '#/components/responses/NotFound'}
            put:
              security: [{apiKey: [write]}]
              summary: >-
                Create or replace an item. A new item is at once scorable by every registered model that
                can embed items from their text (content, sasrec-content, fusions of them), and new text of
                a known item is embedded again by them; other models skip it until retrained.
              parameters: [{$ref: '#/components/parameters/ItemID'}]
              requestBody:
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/Item'}
              responses:
                '413': {$ref: '#/components/responses/TooLarge'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: The stored item and the models that took it in (both lists are empty for an item every model already knew).
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/StoredItem'}
                '400': {$ref: '#/components/responses/BadRequest'}
          /items/{id}/similar:
            get:
              security: [{apiKey: [read]}]
              summary: Items the active model scores highest after this one.
              parameters:
                - {$ref: '#/components/parameters/ItemID'}
                - {$ref: '#/components/parameters/Count'}
                - {$ref: '#/components/parameters/Explain'}
                - {$ref: '#/components/parameters/Query'}
                - {$ref: '#/components/parameters/QueryWeight'}
              responses:
                '400': {$ref: '#/components/responses/BadRequest'}
                '503': {$ref: '#/components/responses/NoModel'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Recommendations'}
                '404': {$ref: '#/components/responses/NotFound'}
          /users:
            get:
              security: [{apiKey: [admin]}]
              summary: Users in id order (with attributes or known from events), one page; with pseudonymised ids (serve --pseudonym-key) the ids listed are pseudonyms.
              parameters:
                - {$ref: '#/components/parameters/Limit'}
                - {$ref: '#/components/parameters/Cursor'}
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/UsersPage'}
                '400': {$ref: '#/components/responses/BadRequest'}
          /users/{id}:
            put:
              security: [{apiKey: [write]}]
              summary: Create or replace a user's attributes (age, gender, location, occupation, …).
              parameters: [{$ref: '#/components/parameters/UserID'}]
              requestBody:
                content:
                  application/json:
                    schema: {type: object, properties: {attributes: {type: object, additionalProperties: {type: string}}}}
              responses:
                '413': {$ref: '#/components/responses/TooLarge'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: The stored user.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/User'}
                '400': {$ref: '#/components/responses/BadRequest'}
            delete:
              security: [{apiKey: [admin]}]
              summary: Forget a user — attributes, events, live state.
              parameters: [{$ref: '#/components/parameters/UserID'}]
              responses:
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: Deleted.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Deleted'}
                '404': {$ref: '#/components/responses/NotFound'}
          /users/{id}/recommendations:
            get:
              security: [{apiKey: [read]}]
              summary: >-
                Top items for a user from their whole history (including events posted a moment ago), scored
                from the state the offline evaluator gives the model; with exclude_seen every item of that
                history is excluded. A user
                with attributes but no events yet is answered by a registered segment-pop model when there is one;
                one with neither events nor such a model, asking with `scenario`, gets the scenario's most popular
                items (`model` is then `scenario-popularity`).
              parameters:
                - {$ref: '#/components/parameters/UserID'}
                - {$ref: '#/components/parameters/Count'}
                - {$ref: '#/components/parameters/Explain'}
                - name: exclude_seen
                  in: query
                  schema: {type: boolean, default: true}
                - name: scenario
                  in: query
                  description: >-
                    Where the request comes from (e.g. `home`); only items that have events with this scenario are
                    recommended. 404 when no event carries it.
                  schema: {type: string, maxLength: 256}
                - {$ref: '#/components/parameters/Diversity'}
                - {$ref: '#/components/parameters/CategoryCap'}
                - {$ref: '#/components/parameters/DiversifyBy'}
                - {$ref: '#/components/parameters/Explore'}
                - {$ref: '#/components/parameters/Query'}
                - {$ref: '#/components/parameters/QueryWeight'}
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Recommendations'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '404': {$ref: '#/components/responses/NotFound'}
                '503': {$ref: '#/components/responses/NoModel'}
          /users/{id}/interests:
            get:
              security: [{apiKey: [admin]}]
              summary: The user's interest trajectory — category shares over consecutive windows of their history.
              parameters:
                - {$ref: '#/components/parameters/UserID'}
                - name: window
                  in: query
                  schema: {type: integer, minimum: 1, maximum: 1000, default: 10}
              responses:
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Interests'}
                '404': {$ref: '#/components/responses/NotFound'}
          /sessions/recommendations:
            post:
              security: [{apiKey: [read]}]
              summary: Recommendations for an anonymous session from the events in the body.
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [events]
                      properties:
                        events: {type: array, items: {type: object, properties: {item: {type: string}}}}
                        n: {type: integer, minimum: 1, maximum: 100}
                        explain: {oneOf: [{type: boolean}, {type: string, enum: [attention, gradient]}]}
                        scenario: {type: string, description: Only items with events in this scenario.}
                        query:
                          type: string
                          minLength: 1
                          maxLength: 512
                          pattern: '\S'
                          description: What the person asks for in words; as `q` of GET /users/{id}/recommendations.
                        query_weight: {type: number, minimum: 0, maximum: 1, description: As `query_weight` there (default 0.5).}
                        options:
                          type: object
                          description: The re-ranking options of GET /users/{id}/recommendations.
                          properties:
                            diversity: {type: number}
                            category_cap: {type: integer}
                            diversify_by: {type: string, enum: [category, embedding]}
                            explore: {type: number}
              responses:
                '404': {$ref: '#/components/responses/NotFound'}
                '413': {$ref: '#/components/responses/TooLarge'}
                '503': {$ref: '#/components/responses/NoModel'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Recommendations'}
                '400': {$ref: '#/components/responses/BadRequest'}
          /models:
            get:
              security: [{apiKey: [admin]}]
              summary: The model registry (kept in the store, so it survives restarts) and which model is active.
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {type: array, items: {$ref: '#/components/schemas/ModelInfo'}}
          /models/{name}:
            delete:
              security: [{apiKey: [admin]}]
              summary: Remove a model that is not active from the registry (and its files when the server saved them).
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Deleted'}
                '404': {$ref: '#/components/responses/NotFound'}
                '409': {description: 'The model is active; activate another one first.'}
          /models/{name}/activate:
            post:
              security: [{apiKey: [admin]}]
              summary: Make a registered model the active one (atomic swap; remembered across restarts).
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: Activated.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Activated'}
                '404': {$ref: '#/components/responses/NotFound'}
          /train:
            post:
              security: [{apiKey: [admin]}]
              summary: Train a model in the background on everything stored; when done it is saved next to the database, recorded in the registry and (by default) activated atomically.
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [model]
                      properties:
                        model: {type: string, description: 'A model type: `swiftrec info` lists them (pop, itemknn, sasrec, content, blend, …).'}
                        name: {type: string, pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$', description: "The name to register the model under (default the model's)."}
                        activate: {type: boolean, default: true}
                        options:
                          type: object
                          description: >-
                            The model's options under the keys of `swiftrec train --set` (`swiftrec info --model M`
                            lists them with their ranges), JSON-typed or as text. An unknown key or a value outside
                            its range is a 400 naming the option (and the closest valid key). So is a
                            training whose estimated peak memory for the stored data is above the server's
                            budget (half the RAM by default; `swiftrec serve --training-memory`).
                          additionalProperties:
                            oneOf:
                              - {type: string}
                              - {type: number}
                              - {type: boolean}
                              - {type: array, items: {oneOf: [{type: string}, {type: number}]}}
                          example: {epochs: 20, time-budget: "300", loss: ce}
              responses:
                '413': {$ref: '#/components/responses/TooLarge'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '202':
                  description: >-
                    The job, queued. A model with a `time-budget` option gets at most the server's maximum
                    (6 hours by default), and that one when it asks for none.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/TrainingJob'}
                '400': {$ref: '#/components/responses/BadRequest'}
                '429':
                  description: As many trainings as allowed (4 by default) are queued or running.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Error'}
            get:
              security: [{apiKey: [admin]}]
              summary: All training jobs with their progress (state, epoch, step, loss, validation NDCG@10, newest log line).
              responses:
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {type: array, items: {$ref: '#/components/schemas/TrainingJob'}}
          /train/{job}:
            get:
              security: [{apiKey: [admin]}]
              summary: One training job's progress.
              parameters:
                - {name: job, in: path, required: true, schema: {type: integer}}
              responses:
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: OK
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/TrainingJob'}
                '404': {$ref: '#/components/responses/NotFound'}
            delete:
              security: [{apiKey: [admin]}]
              summary: >-
                Cancel a training: a queued one never runs; a running one stops at its next step (sequence
                models; other models finish their fit) and its result is discarded rather than registered.
              parameters:
                - {name: job, in: path, required: true, schema: {type: integer}}
              responses:
                '400': {$ref: '#/components/responses/BadRequest'}
                '401': {$ref: '#/components/responses/Unauthorized'}
                '403': {$ref: '#/components/responses/Forbidden'}
                '200':
                  description: The job, cancelled (or with cancelRequested while it runs).
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/TrainingJob'}
                '404': {$ref: '#/components/responses/NotFound'}
                '409':
                  description: The job has already ended.
                  content:
                    application/json:
                      schema: {$ref: '#/components/schemas/Error'}
        """#
}
