import { useState } from 'preact/hooks';
import type { Webhook } from '../api-types.js';
import { useApi, useResource } from '../hooks.js';
import { Link, navigate, paths } from '../router.js';
import { ErrorNotice, Loading } from './notice.js';
import { SecretNotice } from './secret-notice.js';
import { WebhookFacts } from './webhook-facts.js';
import { WebhookForm } from './webhook-form.js';

export function NewWebhookPage() {
  const api = useApi();
  const [created, setCreated] = useState<Webhook | null>(null);

  return (
    <main>
      <h1>{created ? 'Webhook created' : 'Add webhook'}</h1>
      {created ? (
        <>
          <p>
            Events will be POSTed to <strong class="break">{created.url}</strong>.
          </p>
          {created.signing_secret && <SecretNotice heading="Signing secret" secret={created.signing_secret} />}
          <WebhookFacts webhook={created} />
          <div class="actions">
            <Link href={paths.webhook(created.id)} class="button">
              I have saved the secret, continue
            </Link>
          </div>
        </>
      ) : (
        <WebhookForm submitLabel="Create webhook" onCancel={() => navigate(paths.webhooks())} onSubmit={async (input) => setCreated(await api.createWebhook(input))} />
      )}
    </main>
  );
}

export function EditWebhookPage({ id }: { id: string }) {
  const api = useApi();
  const webhook = useResource(`webhook:${id}`, () => api.getWebhook(id));
  return (
    <main>
      <h1>Edit webhook</h1>
      <ErrorNotice error={webhook.error} />
      {!webhook.data && webhook.loading && <Loading />}
      {webhook.data && (
        <WebhookForm
          initial={webhook.data}
          submitLabel="Save changes"
          onCancel={() => navigate(paths.webhook(id))}
          onSubmit={async (input) => {
            await api.updateWebhook(id, input);
            navigate(paths.webhook(id));
          }}
        />
      )}
    </main>
  );
}
