import { create, toBinary, type DescFile, type DescMessage, type DescService, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter, ServiceImpl } from '@connectrpc/connect';
import type { UniversalHandlerOptions } from '@connectrpc/connect/protocol';
import * as v1 from '../gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../gen/grpc/reflection/v1alpha/reflection_pb.js';

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so that grpcurl, Postman and other
 * reflection clients list and call the services without the .proto files. The descriptors are
 * the ones the generated code carries, so they are exactly what is served. No API key: it shows
 * the schema only, as the .proto files in the repository do.
 */

/** Bidirectional streams: the server answers while the client's requests keep coming. */
export const REFLECTION_PATHS: ReadonlySet<string> = new Set(
  [v1.ServerReflection, v1alpha.ServerReflection].map((s) => `/${s.typeName}/${s.methods[0]!.name}`),
);

/** NOT_FOUND, as the reflection protocol's error_code. */
const NOT_FOUND = 5;

/** The fields both protocol versions share, so one implementation answers both. */
type ReflectionRequest = {
  host: string;
  messageRequest:
    | { case: 'fileByFilename' | 'fileContainingSymbol' | 'allExtensionNumbersOfType' | 'listServices'; value: string }
    | { case: 'fileContainingExtension'; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
};

type ReflectionAnswer =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: 'allExtensionNumbersResponse'; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: 'listServicesResponse'; value: { service: Array<{ name: string }> } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

/** Every file of the served services and their imports, with the symbols each defines. */
export class ReflectionIndex {
  /** By file name as imports spell it (`humiris/webhooks/v1/resources.proto`). */
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  /** Extended message → field number → file. */
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(private readonly services: DescService[]) {
    for (const service of services) this.addFile(service.file);
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    file.dependencies.forEach((dependency) => this.addFile(dependency));
    const addMessage = (message: DescMessage) => {
      this.symbols.set(message.typeName, file);
      message.nestedMessages.forEach(addMessage);
      message.nestedEnums.forEach((e) => this.symbols.set(e.typeName, file));
      message.nestedExtensions.forEach((x) => this.addExtension(x.typeName, x.extendee.typeName, x.number, file));
    };
    file.messages.forEach(addMessage);
    file.enums.forEach((e) => this.symbols.set(e.typeName, file));
    file.extensions.forEach((x) => this.addExtension(x.typeName, x.extendee.typeName, x.number, file));
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
  }

  private addExtension(typeName: string, extendee: string, number: number, file: DescFile): void {
    this.symbols.set(typeName, file);
    let numbers = this.extensions.get(extendee);
    if (!numbers) this.extensions.set(extendee, (numbers = new Map()));
    numbers.set(number, file);
  }

  /** The file first, then everything it imports, transitively, each once. */
  private withDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      let bytes = this.encoded.get(f.proto.name);
      if (!bytes) this.encoded.set(f.proto.name, (bytes = toBinary(FileDescriptorProtoSchema, f.proto)));
      out.push(bytes);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out;
  }

  answer(request: ReflectionRequest): ReflectionAnswer {
    const files = (file: DescFile | undefined, what: string): ReflectionAnswer =>
      file
        ? { case: 'fileDescriptorResponse', value: { fileDescriptorProto: this.withDependencies(file) } }
        : { case: 'errorResponse', value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } };
    const { messageRequest: req } = request;
    switch (req.case) {
      case 'listServices':
        return { case: 'listServicesResponse', value: { service: this.services.map((s) => ({ name: s.typeName })) } };
      case 'fileByFilename':
        return files(this.files.get(req.value), `file ${req.value}`);
      case 'fileContainingSymbol':
        return files(this.symbols.get(req.value), `symbol ${req.value}`);
      case 'fileContainingExtension': {
        const { containingType, extensionNumber } = req.value;
        return files(this.extensions.get(containingType)?.get(extensionNumber), `extension ${extensionNumber} of ${containingType}`);
      }
      case 'allExtensionNumbersOfType': {
        const numbers = this.extensions.get(req.value);
        if (!numbers && !this.symbols.has(req.value)) return files(undefined, `type ${req.value}`);
        return { case: 'allExtensionNumbersResponse', value: { baseTypeName: req.value, extensionNumber: [...(numbers?.keys() ?? [])].sort((a, b) => a - b) } };
      }
      default:
        return { case: 'errorResponse', value: { errorCode: 3, errorMessage: 'no message_request set' } };
    }
  }
}

/** Registers both reflection versions over the services already served plus themselves. */
export function registerReflection(router: ConnectRouter, served: DescService[], options: Partial<UniversalHandlerOptions>): void {
  const index = new ReflectionIndex([...served, v1.ServerReflection, v1alpha.ServerReflection]);
  // The request is echoed field by field: the two versions' messages are distinct types.
  const reply = (request: ReflectionRequest) => {
    const { messageRequest: req } = request;
    const echoed = req.case === 'fileContainingExtension' ? { case: req.case, value: { containingType: req.value.containingType, extensionNumber: req.value.extensionNumber } } : req;
    return { validHost: request.host, originalRequest: { host: request.host, messageRequest: echoed }, messageResponse: index.answer(request) };
  };
  const v1Impl: ServiceImpl<typeof v1.ServerReflection> = {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield create(v1.ServerReflectionResponseSchema, reply(request as ReflectionRequest) as MessageInitShape<typeof v1.ServerReflectionResponseSchema>);
      }
    },
  };
  const v1alphaImpl: ServiceImpl<typeof v1alpha.ServerReflection> = {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield create(v1alpha.ServerReflectionResponseSchema, reply(request as ReflectionRequest) as MessageInitShape<typeof v1alpha.ServerReflectionResponseSchema>);
      }
    },
  };
  router.service(v1.ServerReflection, v1Impl, options);
  router.service(v1alpha.ServerReflection, v1alphaImpl, options);
}
